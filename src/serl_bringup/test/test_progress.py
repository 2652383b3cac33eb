"""Progress of the main job (no ROS): evaluation rounds, the CSV that resumes, the curve PNG."""

import pytest
from serl_bringup.curve import plot_learning_curve
from serl_bringup.progress import Progress, read_evaluations


class FakeClock:
    """A settable monotonic clock."""

    def __init__(self):
        self.t = 100.0

    def __call__(self):
        return self.t


def _episode(progress, round_, success, evaluation=True, version=3):
    return progress.on_episode('a', 0, 10, 1.0 if success else 0.0, success, evaluation,
                               round_, 50, version)


def test_round_completes_after_eval_episodes_and_is_appended(tmp_path):
    clock = FakeClock()
    progress = Progress(tmp_path, eval_episodes=2, clock=clock)
    progress.on_learner_status({'env_steps': 400, 'achieved_utd': 2.0,
                                'updates_per_second': 5.0})
    assert _episode(progress, 0, True, evaluation=False) is None
    assert _episode(progress, 0, True) is None
    clock.t += 30.0
    ev = _episode(progress, 0, False, version=7)
    assert ev is not None and ev.success_rate == 0.5 and ev.episodes == 2
    assert ev.env_steps == 400 and ev.policy_version == 7 and ev.wall_time_s == 30.0
    assert progress.training_episodes == 1
    line = progress.status_line(1000)
    assert 'steps 400/1000' in line and '50%' in line and 'UTD 2.0' in line
    assert read_evaluations(tmp_path) == [ev]


def test_resumed_progress_continues_wall_time_and_curve(tmp_path):
    clock = FakeClock()
    first = Progress(tmp_path, eval_episodes=1, clock=clock)
    clock.t += 60.0
    _episode(first, 0, False)
    again = Progress(tmp_path, eval_episodes=1, clock=clock)
    clock.t += 15.0
    ev = _episode(again, 0, True)   # the restarted actor numbers its rounds from 0 again
    assert ev.wall_time_s == 75.0
    assert [e.eval_round for e in read_evaluations(tmp_path)] == [0, 1]   # the run's count
    png = plot_learning_curve(read_evaluations(tmp_path), tmp_path / 'curve.png', target=0.9)
    assert png.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'


def test_status_line_before_learner_status(tmp_path):
    line = Progress(tmp_path, eval_episodes=1).status_line()
    assert 'no status yet' in line and 'eval success n/a' in line


def test_training_time_survives_a_restart_without_evaluations(tmp_path):
    clock = FakeClock()
    first = Progress(tmp_path, eval_episodes=1, clock=clock)
    clock.t += 40.0
    first.save()
    again = Progress(tmp_path, eval_episodes=1, clock=clock)
    clock.t += 2.0
    assert again.wall_time_s == 42.0


def test_episode_counts_survive_a_restart(tmp_path):
    first = Progress(tmp_path, eval_episodes=2, clock=FakeClock())
    _episode(first, 0, True, evaluation=False)
    _episode(first, 0, False, evaluation=False)
    _episode(first, 0, True)
    first.save()
    again = Progress(tmp_path, eval_episodes=2, clock=FakeClock())
    assert (again.episodes, again.training_episodes, again.training_successes) == (3, 2, 1)
    assert 'episodes 3 ' in again.status_line()


def test_rewarded_failures_are_counted_as_false_rewards(tmp_path):
    """A training episode with reward but no (ground-truth) success is a false reward."""
    progress = Progress(tmp_path, eval_episodes=2, clock=FakeClock())
    for episode_return, success in [(1.0, True), (1.0, False), (0.0, False), (0.0, True)]:
        progress.on_episode('a', 0, 10, episode_return, success, False, 0, 50, 3)
    progress.on_episode('a', 0, 10, 1.0, False, True, 0, 50, 3)  # evaluations don't count
    assert (progress.training_rewarded, progress.false_rewards) == (2, 1)
    progress.save()
    again = Progress(tmp_path, eval_episodes=2, clock=FakeClock())
    assert (again.training_rewarded, again.false_rewards) == (2, 1)
    # a log-probability reward: the return is negative; the message's flag says rewarded
    again.on_episode('a', 1, 10, -3.2, False, False, 0, 60, 3, rewarded=True)
    again.on_episode('a', 2, 50, -40.0, False, False, 0, 110, 3, rewarded=False)
    assert (again.training_rewarded, again.false_rewards) == (3, 2)


def test_unreadable_progress_file_starts_from_zero(tmp_path):
    (tmp_path / 'progress.json').write_text('[1, 2]')
    assert Progress(tmp_path, eval_episodes=1).episodes == 0


def test_interventions_are_counted_shown_and_survive_a_restart(tmp_path):
    first = Progress(tmp_path, eval_episodes=1, clock=FakeClock())
    assert 'interventions' not in first.status_line()
    first.on_episode('a', 0, 50, 0.0, False, False, 0, 50, 1, intervention_steps=12)
    first.on_episode('a', 1, 50, 0.0, False, False, 0, 100, 1, intervention_steps=0)
    first.on_episode('a', 2, 50, 1.0, True, True, 0, 100, 1, intervention_steps=5)  # eval
    first.save()
    again = Progress(tmp_path, eval_episodes=1, clock=FakeClock())
    assert (again.intervention_steps, again.intervened_episodes) == (12, 1)
    assert 'interventions 12 steps in 1 episodes' in again.status_line()


def test_status_line_gives_the_time_left_to_the_step_budget(tmp_path):
    clock = FakeClock()
    progress = Progress(tmp_path, eval_episodes=1, clock=clock)
    clock.t += 600.0   # 10 min for 2,000 env steps: 8,000 left take 40 min
    progress.on_learner_status({'env_steps': 2000, 'achieved_utd': 2.0,
                                'updates_per_second': 5.0})
    assert 'steps 2000/10000 (budget in ~40 min)' in progress.status_line(10000)
    assert 'budget in' not in progress.status_line()   # no budget, no estimate


def test_resumed_step_count_goes_on_before_the_learner_reports(tmp_path):
    """A resumed learner reads its spool before its first status: show the run's steps."""
    first = Progress(tmp_path, eval_episodes=1, clock=FakeClock())
    first.on_learner_status({'env_steps': 6523, 'achieved_utd': 10.0,
                             'updates_per_second': 80.0})
    first.save()
    again = Progress(tmp_path, eval_episodes=1, clock=FakeClock())
    assert again.env_steps == 6523 and again.status_line(25000).startswith('steps 6523/25000')
    again.actor_steps = 200   # this session's actor count, learner still silent
    assert again.env_steps == 6723
    again.on_learner_status({'env_steps': 6700})
    assert again.env_steps == 6700   # the learner's count wins once it reports


def test_reward_node_counts_show_queries_and_classifier_updates(tmp_path):
    progress = Progress(tmp_path, eval_episodes=1, clock=FakeClock())
    progress.on_reward_counts({'rewards': '40', 'vice_loss': '0.41'})
    assert progress.reward_summary() == {} and 'queries' not in progress.status_line()
    progress.on_reward_counts({'queries': '7', 'labels': '5', 'labels_failure': '3',
                               'queries_timed_out': '1', 'queries_skipped': '1',
                               'vice_updates': '120'})
    assert progress.reward_summary() == {
        'queries': 7, 'answered': 5, 'answered_failure': 3, 'unanswered': 2,
        'answers_refused': 0, 'classifier_updates': 120}
    assert 'queries 5/7 answered (3 failure) | classifier updates 120' in \
        progress.status_line()
    progress.on_reward_counts({'vice_threshold': '0.7312', 'vice_success_recall': '0.95'})
    assert progress.reward_summary()['threshold'] == pytest.approx(0.7312)
    assert progress.reward_summary()['success_recall'] == pytest.approx(0.95)
    progress.on_reward_counts({'vice_success_recall': 'nan'})   # no figure: left out
    assert 'success_recall' not in progress.reward_summary()
