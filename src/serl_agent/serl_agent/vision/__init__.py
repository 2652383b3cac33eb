"""
Pixels on a CPU: a frozen image encoder whose features are computed once per frame.

- ``spatial_autoencoder``: the encoder (conv stack + spatial softmax, feature points) and its
  self-supervised pretraining on frames a user already has (demos, failure episodes).
- ``image_features``: the encoder file (save / load with clear errors), ``ImageFeatures``
  (images -> feature vectors, batched, no gradient) and ``ImageFeaturesWrapper``, the
  Gymnasium observation wrapper that makes a camera env look like a state env to the agents.
"""
