"""Image–report pretraining, in rooms that follow the data:

- `phantoms/`: phantom chest radiographs drawn from a report's MeSH tags (an image–report set);
- `data/`: reports (Open-I), manifests, splits, adapters for public datasets, the torch dataset;
- `model/`: the encoders, the dual encoder with its heads, the loss functions, the tokenisation;
- `train/`: the config, the batches (loader, collator), the loss terms and the objective, the
  step, the loop, checkpoints;
- `evaluation/`: what a trained model has learned; `experiments/`: runs that train models.

`device` and `progress` serve all of them. Nothing here imports `cli`.
"""
