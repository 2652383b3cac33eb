"""Learning-curve PNG of a run: evaluation success rate over env steps (matplotlib, Agg)."""

from pathlib import Path
from typing import Sequence

from serl_bringup.progress import Evaluation


def plot_learning_curve(evaluations: Sequence[Evaluation], path: Path, title: str = '',
                        target: float = 0.0) -> Path:
    """
    Write the success rate of each evaluation round against env steps to a PNG.

    :param evaluations: complete evaluation rounds, in order.
    :param path: PNG file to write (its directory must exist).
    :param title: plot title.
    :param target: target success rate in [0, 1], drawn as a dashed line (0: none).
    :returns: ``path``.
    """
    import matplotlib
    matplotlib.use('Agg')
    from matplotlib import pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
    steps = [e.env_steps for e in evaluations]
    rates = [100.0 * e.success_rate for e in evaluations]
    ax.plot(steps, rates, marker='o')
    if target > 0:
        ax.axhline(100.0 * target, linestyle='--', color='grey', label=f'target {target:.0%}')
        ax.legend(loc='lower right')
    ax.set_xlabel('env steps')
    ax.set_ylabel('evaluation success rate (%)')
    ax.set_ylim(-5, 105)
    ax.set_xlim(left=0)
    ax.grid(True, alpha=0.3)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    tmp = Path(path).with_suffix('.tmp.png')
    fig.savefig(tmp)
    plt.close(fig)
    tmp.replace(path)
    return Path(path)
