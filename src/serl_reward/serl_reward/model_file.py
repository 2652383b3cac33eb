"""
Save and load success-classifier model files (``torch.save`` of a plain dict).

File layout (format version 1): ``{'format': 'serl_reward.success_classifier',
'version': 1, 'config': ClassifierConfig.to_dict(), 'state_dict': ..., 'threshold': float,
'metrics': dict}``. Only tensors and plain Python values are stored, so files load with
``torch.load(weights_only=True)``.
"""

import os

from serl_reward.classifier import ClassifierConfig, SuccessClassifier, SuccessNet
import torch

FORMAT = 'serl_reward.success_classifier'
VERSION = 1


class ModelFileError(RuntimeError):
    """A model file that is missing, unreadable, or not a success classifier; names the file."""

    def __init__(self, path, reason):
        super().__init__(f'reward model file {path!r}: {reason}')
        self.path = path


def save_model(path, classifier, metrics=None):
    """
    Write ``classifier`` (network, config, threshold) and its held-out ``metrics`` to ``path``.

    The file is written to ``path + '.tmp'`` and renamed, so a crash never leaves a truncated
    model under ``path``.
    """
    state = {
        'format': FORMAT, 'version': VERSION, 'config': classifier.config.to_dict(),
        'state_dict': {k: v for k, v in classifier.net.state_dict().items()
                       if not k.startswith('pretrained.')},
        'threshold': float(classifier.threshold), 'metrics': dict(metrics or {}),
    }
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    tmp = path + '.tmp'
    torch.save(state, tmp)
    os.replace(tmp, path)


def load_model(path):
    """
    Load a :class:`SuccessClassifier` written by :func:`save_model`.

    :returns: tuple: (SuccessClassifier, metrics dict).

    :raises ModelFileError: the file is missing, not a torch file, truncated, of another format or
        version, or its weights do not fit its config. The message names ``path``.
    """
    if not path:
        raise ModelFileError(path, 'no model path given')
    if not os.path.isfile(path):
        raise ModelFileError(path, 'no such file')
    try:
        state = torch.load(path, map_location='cpu', weights_only=True)
    except Exception as error:  # torch raises several types for a corrupt file
        raise ModelFileError(path, f'not a readable torch file ({type(error).__name__}: '
                                   f'{error})') from error
    if not isinstance(state, dict) or state.get('format') != FORMAT:
        raise ModelFileError(path, f'not a {FORMAT} file')
    if state.get('version') != VERSION:
        raise ModelFileError(path, f'format version {state.get("version")} (expected '
                                   f'{VERSION})')
    try:
        config = ClassifierConfig.from_dict(state['config'])
        net = SuccessNet(config)
        missing, unexpected = net.load_state_dict(state['state_dict'], strict=False)
        missing = [k for k in missing if not k.startswith('pretrained.')]
        if missing or unexpected:
            raise ValueError(f'missing weights {missing}, unexpected weights {unexpected}')
        threshold = float(state['threshold'])
    except Exception as error:
        raise ModelFileError(path, f'weights do not fit the stored config ({error})') from error
    if not 0.0 <= threshold <= 1.0:
        raise ModelFileError(path, f'threshold {threshold} outside [0, 1]')
    net.eval()
    return SuccessClassifier(net, threshold), dict(state.get('metrics', {}))
