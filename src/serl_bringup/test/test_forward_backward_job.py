"""serl_train's forward-backward step without ROS: the status line and when both are done."""

from serl_bringup.job.forward_backward import status_line, target_round
from serl_bringup.progress import Progress


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def _progresses(tmp_path):
    return {d: Progress(tmp_path / d, eval_episodes=2, clock=FakeClock())
            for d in ('forward', 'backward')}


def _evaluate(progress, round_, successes):
    for i in range(2):
        progress.on_episode('a', i, 10, 1.0, i < successes, True, round_, 10, 3)


def test_the_target_needs_both_directions_in_the_same_round(tmp_path):
    for d in ('forward', 'backward'):
        (tmp_path / d).mkdir()
    progresses = _progresses(tmp_path)
    assert target_round(progresses, 0.9) is None   # no evaluation yet
    _evaluate(progresses['forward'], 0, 2)
    assert target_round(progresses, 0.9) is None   # backward not evaluated in that round
    _evaluate(progresses['backward'], 0, 1)
    assert target_round(progresses, 0.9) is None   # backward at 50 %
    assert target_round(progresses, 0.5) == 0
    _evaluate(progresses['forward'], 0, 2)
    _evaluate(progresses['backward'], 0, 2)
    assert target_round(progresses, 0.9) == 1


def test_status_line_shows_each_direction_and_the_resets(tmp_path):
    for d in ('forward', 'backward'):
        (tmp_path / d).mkdir()
    progresses = _progresses(tmp_path)
    progresses['forward'].on_learner_status({'env_steps': 120.0, 'achieved_utd': 10.0})
    progresses['backward'].on_learner_status({'env_steps': 80.0, 'achieved_utd': 9.5})
    progresses['forward'].on_episode('a', 0, 60, 0.0, False, False, 0, 60, 1)
    _evaluate(progresses['backward'], 0, 1)
    line = status_line(progresses, (3, 2), 1000)
    assert line.startswith('steps 200/1000 | forward: 120 steps, eval n/a, UTD 10.0 | '
                           'backward: 80 steps, eval 50%, UTD 9.5 | ')
    assert 'resets 3 (2 out of reach) in 1 episodes' in line


def test_resets_of_earlier_sessions_are_kept(tmp_path):
    from serl_bringup.job.forward_backward import earlier_resets, save_resets
    assert earlier_resets(tmp_path) == (0, 0)
    save_resets(tmp_path, (4, 3))
    assert earlier_resets(tmp_path) == (4, 3)
    (tmp_path / 'resets.json').write_text('{broken')
    assert earlier_resets(tmp_path) == (0, 0)
