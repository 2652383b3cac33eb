"""Reward from camera images: success classifier, VICE, active queries; node."""
