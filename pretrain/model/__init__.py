"""The image–report model: `encoders` (image and text backbones), `dual_encoder` (the two with
their heads into one space), `losses` (the loss functions, each with a slow twin in the tests) and
`text` (the one tokenisation of reports)."""
