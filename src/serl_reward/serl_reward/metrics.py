"""Binary classification metrics and threshold selection for a target false-positive rate."""

import numpy as np


def binary_metrics(probabilities, labels, threshold):
    """
    Confusion counts and rates of the rule ``success = probability > threshold``.

    :param probabilities: (N,) float, classifier probabilities in [0, 1].
    :param labels: (N,) bool or {0, 1}, true success labels.
    :param threshold: decision threshold in [0, 1] (strict inequality).

    :returns: dict: ``n``, ``tp``, ``fp``, ``tn``, ``fn`` (int) and ``accuracy``, ``precision``
        (tp / (tp + fp)), ``recall`` (tp / (tp + fn)), ``fpr`` (fp / (fp + tn)) as floats; a
        rate whose denominator is 0 is NaN.

    :raises ValueError: the arrays differ in length or are empty.
    """
    probabilities = np.asarray(probabilities, dtype=np.float64).reshape(-1)
    labels = np.asarray(labels).reshape(-1).astype(bool)
    if probabilities.shape != labels.shape or probabilities.size == 0:
        raise ValueError(
            f'need equal, non-empty probabilities and labels; got {probabilities.size} and '
            f'{labels.size}')
    predicted = probabilities > threshold
    tp = int(np.sum(predicted & labels))
    fp = int(np.sum(predicted & ~labels))
    tn = int(np.sum(~predicted & ~labels))
    fn = int(np.sum(~predicted & labels))
    return {
        'n': int(labels.size), 'tp': tp, 'fp': fp, 'tn': tn, 'fn': fn,
        'accuracy': (tp + tn) / labels.size,
        'precision': _ratio(tp, tp + fp), 'recall': _ratio(tp, tp + fn),
        'fpr': _ratio(fp, fp + tn),
    }


def select_threshold(negative_probabilities, target_fpr, floor=0.5):
    """
    Pick the lowest threshold whose false-positive rate on the given negatives is <= target.

    With n negatives, at most k = floor(target_fpr * n) of them may score above the threshold,
    so the threshold is the (k+1)-th largest negative probability (the rule is
    ``probability > threshold``). It never goes below ``floor``, so a well separated classifier
    keeps the natural 0.5 boundary. The estimate is only as good as n: with fewer than
    1 / target_fpr negatives, k is 0 and the threshold is the largest negative score.

    :param negative_probabilities: (N,) float, probabilities of held-out frames labelled failure.
    :param target_fpr: the false-positive rate to meet, in [0, 1).
    :param floor: lowest threshold returned.

    :returns: float: the threshold in [floor, 1].

    :raises ValueError: no negatives, ``target_fpr`` outside [0, 1) or ``floor`` outside [0, 1].
    """
    scores = np.sort(np.asarray(negative_probabilities, dtype=np.float64).reshape(-1))[::-1]
    if scores.size == 0:
        raise ValueError('threshold selection needs at least one held-out negative frame')
    if not 0.0 <= target_fpr < 1.0:
        raise ValueError(f'target_fpr must be in [0, 1), got {target_fpr}')
    if not 0.0 <= floor <= 1.0:
        raise ValueError(f'the threshold floor must be in [0, 1], got {floor}')
    allowed = int(np.floor(target_fpr * scores.size))
    threshold = scores[min(allowed, scores.size - 1)]
    return float(min(max(threshold, floor), 1.0))


def format_metrics(metrics):
    """One line of text: accuracy, precision, recall, FPR and the confusion counts."""
    return (f'accuracy={metrics["accuracy"]:.4f} precision={metrics["precision"]:.4f} '
            f'recall={metrics["recall"]:.4f} fpr={metrics["fpr"]:.4f} '
            f'(tp={metrics["tp"]} fp={metrics["fp"]} tn={metrics["tn"]} fn={metrics["fn"]}, '
            f'n={metrics["n"]})')


def _ratio(numerator, denominator):
    return numerator / denominator if denominator else float('nan')
