"""Image–report pretraining: data (pairs, manifests, phantoms) and the torch models that use them."""
