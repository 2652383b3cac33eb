"""
Training progress of the main job, without ROS: what the status line and the curve show.

:class:`Progress` is fed with the learner's status (``serl_msgs/LearnerStatus`` fields) and
the actor's episode summaries (``serl_msgs/EpisodeSummary`` fields) and keeps the evaluation
results: the success rate of every complete evaluation round, at the learner's env step count
when the round ended. Rounds are appended to ``evaluations.csv`` in the run directory, so a
resumed run continues its learning curve.
"""

import csv
from dataclasses import dataclass
import json
from pathlib import Path
import time
from typing import Dict, List, Optional

EVALUATIONS_CSV = 'evaluations.csv'
STATE_JSON = 'progress.json'
#: episode counters kept in ``progress.json`` (they go on after a resume)
COUNTERS = ('episodes', 'training_episodes', 'training_successes', 'training_rewarded',
            'false_rewards', 'intervention_steps', 'intervened_episodes')
FIELDS = ('env_steps', 'wall_time_s', 'eval_round', 'episodes', 'successes', 'success_rate',
          'mean_return', 'policy_version')


@dataclass
class Evaluation:
    """
    One complete evaluation round.

    :ivar env_steps: env steps the learner had received when the round ended.
    :ivar wall_time_s: seconds of training (this and earlier sessions of the run) at its end.
    :ivar eval_round: the run's evaluation round number, 0, 1, 2, ... over every session of
        the run (a resumed actor numbers its own rounds from 0 again; they only group its
        episodes).
    :ivar episodes: episodes in the round.
    :ivar successes: successful episodes.
    :ivar success_rate: ``successes / episodes`` in [0, 1].
    :ivar mean_return: mean undiscounted return.
    :ivar policy_version: policy weights version that acted (largest in the round).
    """

    env_steps: int
    wall_time_s: float
    eval_round: int
    episodes: int
    successes: int
    success_rate: float
    mean_return: float
    policy_version: int
    direction: str = ''   # forward-backward: the direction evaluated (not in the CSV)


def read_evaluations(run_dir: Path) -> List[Evaluation]:
    """Return the evaluations recorded in ``run_dir/evaluations.csv`` (none: empty list)."""
    path = Path(run_dir) / EVALUATIONS_CSV
    if not path.exists():
        return []
    out = []
    with path.open(newline='') as f:
        for row in csv.DictReader(f):
            out.append(Evaluation(int(row['env_steps']), float(row['wall_time_s']),
                                  int(row['eval_round']), int(row['episodes']),
                                  int(row['successes']), float(row['success_rate']),
                                  float(row['mean_return']), int(row['policy_version'])))
    return out


class Progress:
    """
    Counters and evaluation results of one run; see the module docstring.

    :param run_dir: run directory (``evaluations.csv`` is read and appended there).
    :param eval_episodes: episodes per evaluation round (a round is complete with that many).
    :param clock: monotonic clock in seconds (tests pass their own).
    """

    # the reward node's non-integer diagnostic values kept (key there -> name in the summary)
    REWARD_FIGURES = {'vice_threshold': 'threshold', 'vice_success_recall': 'success_recall'}

    def __init__(self, run_dir: Path, eval_episodes: int, clock=time.monotonic):
        self.run_dir = Path(run_dir)
        self.eval_episodes = int(eval_episodes)
        self._clock = clock
        self.evaluations: List[Evaluation] = read_evaluations(self.run_dir)
        saved = self._saved_state()
        self.earlier_wall_s = max(self.evaluations[-1].wall_time_s if self.evaluations else 0.0,
                                  float(saved.get('wall_time_s', 0.0)))
        self._start = clock()
        self.learner: Dict[str, float] = {}
        # episode counts go on from earlier sessions of the run
        self.episodes = int(saved.get('episodes', 0))
        self.training_episodes = int(saved.get('training_episodes', 0))
        self.training_successes = int(saved.get('training_successes', 0))
        # training episodes with a positive return (a sparse reward's success), and those of
        # them whose success flag says failure: with the actor's ground_truth_success, the
        # reward classifier's false positives
        self.training_rewarded = int(saved.get('training_rewarded', 0))
        self.false_rewards = int(saved.get('false_rewards', 0))
        # training steps a person drove (HIL-SERL interventions) and episodes with any
        self.intervention_steps = int(saved.get('intervention_steps', 0))
        self.intervened_episodes = int(saved.get('intervened_episodes', 0))
        # env steps of earlier sessions: the count shown until the resumed learner reports
        self.earlier_env_steps = int(saved.get('env_steps', 0))
        self.actor_steps = 0
        self.reward_frames = 0
        # the reward node's counts (its /diagnostics values; VICE and label queries)
        self.reward_counts: Dict[str, float] = {}
        self.policy_version: Optional[int] = None  # newest version that acted in an episode
        self.weights_version: Optional[int] = None  # newest version the learner published
        self._rounds: Dict[tuple, list] = {}

    def _saved_state(self) -> dict:
        path = self.run_dir / STATE_JSON
        try:
            state = json.loads(path.read_text())
            return {key: float(state[key]) for key in ('wall_time_s', 'env_steps') + COUNTERS
                    if key in state}
        except (OSError, ValueError, TypeError, AttributeError):
            return {}

    def save(self) -> None:
        """Write the training time and episode counts to ``run_dir/progress.json`` (resume)."""
        tmp = self.run_dir / (STATE_JSON + '.tmp')
        state = {'wall_time_s': round(self.wall_time_s, 1), 'env_steps': self.env_steps}
        state.update((key, getattr(self, key)) for key in COUNTERS)
        tmp.write_text(json.dumps(state) + '\n')
        tmp.replace(self.run_dir / STATE_JSON)

    @property
    def wall_time_s(self) -> float:
        """Seconds of training: earlier sessions of the run plus this one."""
        return self.earlier_wall_s + self._clock() - self._start

    @property
    def env_steps(self) -> int:
        """
        Env steps the learner received (spool included).

        Until the learner's first status (a resumed learner reads its spool first): the
        earlier sessions' count plus this session's actor steps.
        """
        return int(self.learner.get('env_steps', self.earlier_env_steps + self.actor_steps))

    @property
    def last_evaluation(self) -> Optional[Evaluation]:
        """Return the newest complete evaluation round, or None."""
        return self.evaluations[-1] if self.evaluations else None

    def on_learner_status(self, status: Dict[str, float]) -> None:
        """Take the fields of one ``LearnerStatus``."""
        self.learner = dict(status)

    def on_episode(self, actor_id: str, episode: int, steps: int, episode_return: float,
                   success: bool, evaluation: bool, evaluation_round: int,
                   total_steps: int, policy_version: int,
                   intervention_steps: int = 0,
                   rewarded: Optional[bool] = None) -> Optional[Evaluation]:
        """
        Take the fields of one ``EpisodeSummary``.

        :param rewarded: the reward source's success ended the episode (the message's field);
            None: a positive return (a sparse reward's success).
        :returns: the :class:`Evaluation` when this episode completed a round (it is also
            appended to ``evaluations.csv``), else None.
        """
        self.episodes += 1
        self.actor_steps = max(self.actor_steps, int(total_steps))
        if policy_version >= 0:
            self.policy_version = int(policy_version)
        if not evaluation:
            rewarded = episode_return > 0.0 if rewarded is None else bool(rewarded)
            self.training_episodes += 1
            self.training_successes += int(bool(success))
            self.training_rewarded += int(rewarded)
            self.false_rewards += int(rewarded and not success)
            self.intervention_steps += int(intervention_steps)
            self.intervened_episodes += int(intervention_steps > 0)
            return None
        key = (actor_id, int(evaluation_round))
        results = self._rounds.setdefault(key, [])
        results.append((bool(success), float(episode_return), int(policy_version)))
        if len(results) < self.eval_episodes:
            return None
        del self._rounds[key]
        successes = sum(r[0] for r in results)
        ev = Evaluation(self.env_steps, round(self.wall_time_s, 1), len(self.evaluations),
                        len(results), successes, successes / len(results),
                        sum(r[1] for r in results) / len(results),
                        max(r[2] for r in results))
        self.evaluations.append(ev)
        self._append_csv(ev)
        return ev

    def _append_csv(self, ev: Evaluation) -> None:
        path = self.run_dir / EVALUATIONS_CSV
        new = not path.exists()
        with path.open('a', newline='') as f:
            writer = csv.DictWriter(f, fieldnames=FIELDS)
            if new:
                writer.writeheader()
            writer.writerow({k: getattr(ev, k) for k in FIELDS})

    def on_reward_counts(self, values: Dict[str, str]) -> None:
        """Take the reward node's diagnostic values (strings): the counts, and VICE's threshold."""
        for key, value in values.items():
            try:
                self.reward_counts[key] = (float(value) if key in self.REWARD_FIGURES
                                           else int(value))
            except (TypeError, ValueError):
                continue

    def reward_summary(self) -> Dict[str, int]:
        """
        Return the reward node's VICE and label-query figures.

        As ``result.json`` and TensorBoard give them: queries asked, answered, answered
        "failure" (false positives caught), unanswered (timed out or skipped), answers refused
        (late), classifier updates; with VICE also the threshold last re-chosen and the
        fraction of the success examples at or above it. Empty when the node runs neither.
        """
        c = self.reward_counts
        if not (c.get('queries') or c.get('vice_updates')):
            return {}
        return {'queries': c.get('queries', 0), 'answered': c.get('labels', 0),
                'answered_failure': c.get('labels_failure', 0),
                'unanswered': c.get('queries_timed_out', 0) + c.get('queries_skipped', 0),
                'answers_refused': c.get('answers_refused', 0),
                'classifier_updates': c.get('vice_updates', 0),
                **{name: c[key] for key, name in self.REWARD_FIGURES.items()
                   if key in c and c[key] == c[key]}}

    def status_line(self, max_env_steps: int = 0) -> str:
        """
        One line: env steps, episodes, last evaluation's success rate, UTD, updates/s.

        Losses are left out of the line (TensorBoard has them).
        """
        steps = f'{self.env_steps}' + (f'/{max_env_steps}' if max_env_steps else '')
        rate = self.env_steps / self.wall_time_s if self.wall_time_s > 0 else 0.0
        if max_env_steps and rate > 0 and self.env_steps < max_env_steps:
            steps += f' (budget in ~{(max_env_steps - self.env_steps) / rate / 60:.0f} min)'
        ev = self.last_evaluation
        success = (f'{100 * ev.success_rate:.0f}% ({ev.successes}/{ev.episodes} at '
                   f'{ev.env_steps} steps)' if ev else 'n/a')
        utd = self.learner.get('achieved_utd')
        ups = self.learner.get('updates_per_second')
        minutes = self.wall_time_s / 60.0
        interventions = (f' | interventions {self.intervention_steps} steps in '
                         f'{self.intervened_episodes} episodes' if self.intervention_steps
                         else '')
        reward = self.reward_summary()
        if reward:
            interventions += (f' | queries {reward["answered"]}/{reward["queries"]} answered '
                              f'({reward["answered_failure"]} failure) | classifier updates '
                              f'{reward["classifier_updates"]}')
        return (f'steps {steps} | episodes {self.episodes} | eval success {success} | '
                f'UTD {utd:.1f} | {ups:.1f} updates/s | weights v{self.weights_version} | '
                f'{minutes:.1f} min{interventions}' if utd is not None else
                f'steps {steps} | episodes {self.episodes} | eval success {success} | '
                f'learner: no status yet | {minutes:.1f} min{interventions}')
