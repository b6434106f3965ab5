"""Phantom chest radiographs drawn from a report's MeSH tags: anatomy, canvas, the findings that
can be drawn, one phantom per report and a whole image–report set."""
