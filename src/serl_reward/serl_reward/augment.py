"""Random-shift image augmentation (DrQ, Kostrikov et al. 2020, Sec. 3.1)."""

import torch
import torch.nn.functional as F


def random_shift(images, pad=4, generator=None):
    """
    Shift each image by a random integer offset in [-pad, pad] pixels, per axis.

    The image is padded by replicating its border pixels and a random (height, width) window is
    cropped, as in DrQ (Kostrikov, Yarats, Fergus 2020, "Image Augmentation Is All You Need",
    Sec. 3.1: pad 4, random crop back to the original size).

    :param images: float tensor (B, C, H, W).
    :param pad: maximum shift in pixels (>= 0); 0 returns ``images`` unchanged.
    :param generator: optional ``torch.Generator`` for reproducible shifts.

    :returns: torch.Tensor: same shape and dtype as ``images``; each sample shifted independently.

    :raises ValueError: ``images`` is not 4-D or ``pad`` is negative.
    """
    if images.dim() != 4:
        raise ValueError(f'random_shift expects (B, C, H, W), got shape {tuple(images.shape)}')
    if pad < 0:
        raise ValueError(f'pad must be >= 0, got {pad}')
    if pad == 0:
        return images
    batch, _, height, width = images.shape
    padded = F.pad(images, (pad, pad, pad, pad), mode='replicate')
    offsets = torch.randint(0, 2 * pad + 1, (batch, 2), generator=generator)
    rows = torch.arange(height).view(1, height) + offsets[:, :1]  # (B, H)
    cols = torch.arange(width).view(1, width) + offsets[:, 1:]  # (B, W)
    batch_index = torch.arange(batch).view(batch, 1, 1)
    # Advanced indexing on (B, Hp, Wp, C): gather the window of every sample at once.
    channels_last = padded.permute(0, 2, 3, 1)
    cropped = channels_last[batch_index, rows[:, :, None], cols[:, None, :]]
    return cropped.permute(0, 3, 1, 2).contiguous()
