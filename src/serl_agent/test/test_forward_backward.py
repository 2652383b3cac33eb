"""Forward-backward reset-free training: the schedule, and a short run on bin relocation."""

import pytest
from serl_agent.agents.config import RLPDConfig
from serl_agent.runtime.forward_backward import ResetFreeSchedule, train_forward_backward

pytestmark = pytest.mark.usefixtures('one_torch_thread')


def test_schedule_alternates_and_resets_only_at_start_or_out_of_reach():
    schedule = ResetFreeSchedule()
    assert schedule.next_episode(in_reach=False) == ('forward', True)   # first: always reset
    assert schedule.next_episode(in_reach=True) == ('backward', False)
    assert schedule.next_episode(in_reach=True) == ('forward', False)
    assert schedule.next_episode(in_reach=False) == ('backward', True)   # pushed out of reach
    assert (schedule.resets, schedule.out_of_reach_resets) == (2, 1)
    assert schedule.goal_already_met() == 'forward' and schedule.skipped == 1
    assert schedule.next_episode(in_reach=True) == ('backward', False)


def test_short_run_skips_a_met_goal_trains_each_direction_and_resumes(tmp_path):
    config = RLPDConfig(batch_size=16, hidden_dims=(32, 32), num_critics=2, utd_ratio=1,
                        torch_compile=False)
    first = train_forward_backward('PandaBinRelocation-v0', 300, tmp_path / 'fb', config,
                                   seed=0, eval_every=150, eval_episodes=1)
    forward, backward = first['per_direction']['forward'], first['per_direction']['backward']
    assert forward['env_steps'] + backward['env_steps'] == first['env_steps'] >= 300
    assert forward['critic_updates'] == forward['env_steps']   # UTD 1, own steps only
    if forward['successes'] == 0:   # the cube never left A: the backward goal was met
        assert backward['env_steps'] == 0 and first['skipped'] == forward['episodes'] - 1
    assert first['resets'] == 1 + first['out_of_reach_resets']
    assert len(first['evals']) == 2
    assert all(0.0 <= f <= 1.0 and 0.0 <= b <= 1.0 for _, f, b in first['evals'])
    for direction in ('forward', 'backward'):
        assert (tmp_path / 'fb' / direction / 'checkpoints' / 'latest.json').exists()
    again = train_forward_backward('PandaBinRelocation-v0', first['env_steps'] + 150,
                                   tmp_path / 'fb', config, seed=0, eval_every=0,
                                   first_direction='backward')
    assert again['env_steps'] >= first['env_steps'] + 150   # counted on from the checkpoints
    assert again['per_direction']['backward']['env_steps'] >= 150   # it starts in B
    assert again['per_direction']['backward']['critic_updates'] >= 150


def test_where_the_object_was_lost_is_recorded_at_each_out_of_reach_reset(tmp_path):
    config = RLPDConfig(batch_size=16, hidden_dims=(32, 32), num_critics=2, utd_ratio=1,
                        torch_compile=False)
    calls = []

    def every_other_episode_out_of_reach(env):
        calls.append(1)
        return len(calls) % 2 == 1

    result = train_forward_backward('PandaBinRelocation-v0', 250, tmp_path / 'fb', config,
                                    seed=0, eval_every=0,
                                    in_reach=every_other_episode_out_of_reach)
    assert result['out_of_reach_resets'] >= 1
    assert len(result['lost_at']) == result['out_of_reach_resets']
    assert all(len(position) == 3 for position in result['lost_at'])   # m, fr3_link0


def test_a_reached_target_stops_the_run_unless_told_to_train_on(tmp_path):
    config = RLPDConfig(batch_size=16, hidden_dims=(32, 32), num_critics=2, utd_ratio=1,
                        torch_compile=False)
    # target 0 %: met at the first evaluation
    kwargs = {'seed': 0, 'eval_every': 100, 'eval_episodes': 1, 'target_success': 0.0}
    stopped = train_forward_backward('PandaBinRelocation-v0', 300, tmp_path / 'a', config,
                                     **kwargs)
    assert stopped['reached_at'] == 100 and stopped['env_steps'] == 100
    # counted when reached: the episode then running (here the first) finishes afterwards
    assert stopped['at_target'] == {'episodes': 0, 'resets': 1, 'out_of_reach_resets': 0}
    assert stopped['episodes'] == 1
    on = train_forward_backward('PandaBinRelocation-v0', 300, tmp_path / 'b', config,
                                stop_at_target=False, **kwargs)
    assert on['reached_at'] == 100 and on['env_steps'] >= 300 and len(on['evals']) == 3
    assert on['at_target'] == stopped['at_target'] and on['episodes'] >= 3
