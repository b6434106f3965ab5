"""The image–report model: encoders, the dual encoder with its heads, and the loss functions."""
