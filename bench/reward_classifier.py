#!/usr/bin/env python3
"""
Benchmark: the success classifier of serl_reward on the sim pick-cube task (vision).

1. Training data: 20 scripted-expert demos of PandaPickCubeVision-v0 (or the Transition bags
   given with --demo-bags). The demonstrator keeps holding the cube for --hold-steps (default
   20) more steps after the first success, the way HIL-SERL collects success frames and as the
   demos that ``serl_train`` records through the record_demos graph do (``hold_success:=20``:
   the actor's ``success_hold_steps``); --hold-steps 0: demos ending at their first success
   (one success frame per demo). Every frame is labelled with the simulator's
   ``info['succeed']``.
2. serl_reward's training: whole demos held out for the threshold (target FPR), the rest
   trained on.
3. Evaluation on frames of fresh episodes (other seeds), never trained on: 10 random-policy
   rollouts (1,000 frames), 12 expert rollouts holding success for --eval-hold-steps
   (``expert``) and 20 ending at success (``expert_end``, as serl_train's RL episodes do). The
   evaluation expert approaches with the gripper open (``approach_closed=False``), unlike the
   demos'. Prints accuracy, precision, recall, FPR by source and for the two protocols
   random + expert (``held``) and random + expert_end (``end``), each >= 1,400 frames.
4. Active queries (RAQ), as reward_node runs them: --raq-rounds rounds of --raq-episodes
   random-policy episodes (seeds apart from the evaluation's); in each, every --raq-interval
   frames the frame set scored highest since the last query is labelled by the simulator's
   ground truth (as label_server_node does) and joins the training set; the classifier is then
   fine-tuned (--raq-steps). Evaluated again on the same frames.
5. Inference latency per frame set (batch 1, front + wrist 128x128, torch.inference_mode) with
   1 and 2 CPU threads, against the 5 ms goal.

Last line: ``key=value ...``.

Run: ``MUJOCO_GL=egl python bench/reward_classifier.py``
"""

import argparse
import time

import gymnasium as gym
import numpy as np
from serl_reward.active_query import ActiveQuerySelector
from serl_reward.bag_frames import read_labelled_frames
from serl_reward.classifier import ClassifierConfig
from serl_reward.dataset import concatenate, from_frames, split_by_episode
from serl_reward.metrics import binary_metrics, format_metrics, select_threshold
from serl_reward.model_file import save_model
from serl_reward.training import fit_classifier, predict, train_net, TrainConfig
import serl_sim  # noqa: F401  (registers the envs)
from serl_sim.experts import PickCubeExpert
import torch

KEYS = ('front', 'wrist')


def rollout(env, policy, seed, episode, hold_steps, max_steps=100):
    """One episode of frames (after each step) with ground-truth labels."""
    obs, info = env.reset(seed=seed)
    if hasattr(policy, 'reset'):
        policy.reset()
    frames, labels, since_success = [], [], None
    for _ in range(max_steps):
        obs, _, _, _, info = env.step(policy(obs))
        frames.append({k: obs[k] for k in KEYS})
        labels.append(bool(info['succeed']))
        if info['succeed'] and since_success is None:
            since_success = 0
        if since_success is not None:
            since_success += 1
            if since_success > hold_steps:
                break
    return from_frames(frames, labels, [episode] * len(frames))


def collect(env, policy, seeds, hold_steps, max_steps=100):
    """Frames of one rollout per seed, as one dataset."""
    return concatenate([rollout(env, policy, seed, i, hold_steps, max_steps)
                        for i, seed in enumerate(seeds)])


#: evaluation sets: random rollouts with expert episodes that hold success (``held``) or end
#: at it, as serl_train's RL episodes do (``end``)
PROTOCOLS = {'held': ('random', 'expert'), 'end': ('random', 'expert_end')}


def evaluate(classifier, sources, title):
    """Print per source and return, per protocol of :data:`PROTOCOLS`, the metrics."""
    scored = {}
    for name, data in sources.items():
        p = predict(classifier, data)
        scored[name] = (p, data.labels)
        print(f'{title} {name:>10}: {data.summary()}; '
              f'{format_metrics(binary_metrics(p, data.labels, classifier.threshold))}')
    results = {}
    for protocol, names in PROTOCOLS.items():
        results[protocol] = binary_metrics(np.concatenate([scored[n][0] for n in names]),
                                           np.concatenate([scored[n][1] for n in names]),
                                           classifier.threshold)
        print(f'{title} {" + ".join(names)}: {format_metrics(results[protocol])}')
    return results


def active_queries(env, classifier, policy, seeds, interval):
    """Frames chosen by RAQ on rollouts of ``policy``, labelled with ground truth."""
    selector = ActiveQuerySelector(interval)
    chosen, labels = [], []
    for seed in seeds:
        episode = rollout(env, policy, seed, 0, 0)
        p = predict(classifier, episode)
        selector.take(0)
        for i in range(len(episode)):
            frames = {k: episode.images[k][i] for k in KEYS}
            selector.observe((i, 0), {'frames': frames, 'label': episode.labels[i]}, p[i])
            candidate = selector.take(i + 1)
            if candidate is not None:
                chosen.append(candidate.frames['frames'])
                labels.append(candidate.frames['label'])
        selector = ActiveQuerySelector(interval)
    return from_frames(chosen, labels, np.arange(len(labels)))


def latency_ms(classifier, frames, threads, repeats=300):
    """Median and 95th percentile of the inference time of one frame set, ms."""
    torch.set_num_threads(threads)
    one = {k: frames.images[k][:1] for k in KEYS}
    for _ in range(20):
        classifier.logits(one)
    times = []
    for i in range(repeats):
        sample = {k: frames.images[k][i % len(frames):i % len(frames) + 1] for k in KEYS}
        start = time.perf_counter()
        classifier.logits(sample)
        times.append(time.perf_counter() - start)
    return 1e3 * np.median(times), 1e3 * np.percentile(times, 95)


def main():
    """Run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[1])
    parser.add_argument('--demos', type=int, default=20)
    parser.add_argument('--demo-bags', nargs='*', default=[],
                        help='read the training demos from these Transition bags instead')
    parser.add_argument('--hold-steps', type=int, default=20,
                        help='demo steps kept after the first success (serl_train: 20)')
    parser.add_argument('--demo-approach', choices=('closed', 'open'), default='closed',
                        help="the demo expert's gripper during the approach (serl_sim default: "
                             'closed; open = the expert before that change)')
    parser.add_argument('--eval-hold-steps', type=int, default=20,
                        help='evaluation expert steps kept after the first success')
    parser.add_argument('--eval-random', type=int, default=10, help='random-policy episodes')
    parser.add_argument('--eval-expert', type=int, default=12,
                        help='expert episodes holding success for --eval-hold-steps')
    parser.add_argument('--eval-expert-end', type=int, default=20,
                        help='expert episodes ending at success (as serl_train RL episodes do)')
    parser.add_argument('--steps', type=int, default=300)
    parser.add_argument('--target-fpr', type=float, default=0.01)
    parser.add_argument('--raq-rounds', type=int, default=3)
    parser.add_argument('--raq-episodes', type=int, default=5,
                        help='random-policy episodes per RAQ round')
    parser.add_argument('--raq-interval', type=int, default=10, help='frames per query')
    parser.add_argument('--raq-steps', type=int, default=100,
                        help='fine-tuning steps after each round')
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--save-model', default='', help='also write the model file here')
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    env = gym.make('PandaPickCubeVision-v0').unwrapped  # no time limit: demos hold success
    expert = PickCubeExpert(env, approach_closed=args.demo_approach == 'closed')

    start = time.monotonic()
    if args.demo_bags:
        demos = read_labelled_frames(args.demo_bags, KEYS, (128, 128))
    else:
        demos = collect(env, expert, range(args.seed, args.seed + args.demos), args.hold_steps)
    print(f'demos: {demos.summary()} ({time.monotonic() - start:.0f} s)')
    train, validation = split_by_episode(demos, 0.2, seed=args.seed)
    print(f'train: {train.summary()}; threshold chosen on: {validation.summary()}')

    start = time.monotonic()
    config = ClassifierConfig(image_keys=KEYS, image_size=(128, 128))
    classifier, val_metrics = fit_classifier(
        train, validation, config,
        TrainConfig(steps=args.steps, target_fpr=args.target_fpr, seed=args.seed), log=print)
    train_s = time.monotonic() - start
    print(f'trained in {train_s:.0f} s; threshold {classifier.threshold:.4f} '
          f'(target FPR {args.target_fpr} on held-out demos: {format_metrics(val_metrics)})')
    if args.save_model:
        save_model(args.save_model, classifier, val_metrics)

    start = time.monotonic()
    base = args.seed + 10_000
    rng = np.random.default_rng(base)
    space = env.action_space

    def random_policy(_):
        return rng.uniform(space.low, space.high).astype(np.float32)
    # the evaluation expert flies the approach with the gripper open (the demos' expert closes
    # it): frames unlike any demo frame
    direct = PickCubeExpert(env, approach_closed=False)
    sources = {
        'random': collect(env, random_policy, range(base, base + args.eval_random), 0),
        'expert': collect(env, direct, range(base + 100, base + 100 + args.eval_expert),
                          args.eval_hold_steps),
        'expert_end': collect(env, direct, range(base + 200, base + 200 + args.eval_expert_end),
                              0),
    }
    print(f'evaluation frames collected in {time.monotonic() - start:.0f} s')
    before = evaluate(classifier, sources, 'demos only:')

    rng_raq = np.random.default_rng(base + 5000)

    def raq_policy(_):
        return rng_raq.uniform(space.low, space.high).astype(np.float32)
    train_config = TrainConfig(steps=args.raq_steps, target_fpr=args.target_fpr,
                               seed=args.seed + 1)
    labelled = []
    start = time.monotonic()
    for round_ in range(args.raq_rounds):
        seeds = range(base + 20_000 + round_ * 100,
                      base + 20_000 + round_ * 100 + args.raq_episodes)
        answers = active_queries(env, classifier, raq_policy, seeds, args.raq_interval)
        labelled.append(answers)
        false_positives = int(np.sum((predict(classifier, answers) > classifier.threshold)
                                     & ~answers.labels))
        print(f'RAQ round {round_ + 1}: {answers.summary()} labelled, {false_positives} of '
              f'them false positives of the current classifier')
        train_net(classifier.net, concatenate([train] + labelled), train_config)
    validation_p = predict(classifier, validation)
    classifier.threshold = select_threshold(validation_p[~validation.labels], args.target_fpr)
    num_labels = sum(len(d) for d in labelled)
    print(f'RAQ: {num_labels} labels, {time.monotonic() - start:.0f} s')
    after = (evaluate(classifier, sources, f'demos + {num_labels} RAQ labels:')
             if args.raq_rounds > 0 else None)

    frames = sources['expert']
    lat1, lat1_p95 = latency_ms(classifier, frames, 1)
    lat2, lat2_p95 = latency_ms(classifier, frames, 2)
    print(f'latency per frame set (front + wrist 128x128, batch 1): 1 thread median '
          f'{lat1:.2f} ms (p95 {lat1_p95:.2f}), 2 threads median {lat2:.2f} ms '
          f'(p95 {lat2_p95:.2f}); goal 5 ms -> ratio {min(lat1, lat2) / 5.0:.2f}')
    fields = {}
    for label, results in (('demos_only', before), ('raq', after)):
        for protocol, m in (results or {}).items():
            fields.update({f'{label}_{protocol}_{k}': f'{m[k]:.4f}'
                           for k in ('accuracy', 'fpr', 'precision', 'recall')})
            fields[f'{label}_{protocol}_frames'] = m['n']
    fields.update(raq_labels=num_labels, train_frames=len(train),
                  train_positives=train.num_positive, train_s=f'{train_s:.0f}',
                  latency_ms_1thread=f'{lat1:.2f}', latency_ms_2threads=f'{lat2:.2f}',
                  latency_goal_ms=5, latency_ratio=f'{min(lat1, lat2) / 5.0:.2f}')
    print(' '.join(f'{k}={v}' for k, v in fields.items()))


if __name__ == '__main__':
    main()
