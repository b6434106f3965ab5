"""Phantom chest radiographs drawn from a report's MeSH tags: the anatomy (`anatomy`, `thorax`,
`vessels` on a `canvas`, with `drawing` primitives), the findings the phantom can draw
(`findings/`), one phantom per report (`phantom`), a whole image–report set with its manifest
(`phantom_set`) and a contact sheet to judge them by eye (`gallery`)."""
