"""
``serl_train_reward``: train the success classifier from demo bags, write the model file.

Reads labelled frames from Transition bags (demo bags and any extra labelled bags) and from
``.npz`` files of answered label queries, splits them by episode into training and held-out
frames, trains, picks the decision threshold on the held-out frames for a target
false-positive rate, prints precision / recall / FPR there, and saves the model.

Example::

    serl_train_reward demos/ extra_bags/ --labels queries.npz --output reward.pt \
        --image-keys front wrist --target-fpr 0.01
"""

import argparse
import sys

from serl_reward.bag_frames import BagReadError, read_labelled_frames
from serl_reward.classifier import ClassifierConfig
from serl_reward.dataset import concatenate, DatasetError, load_npz, split_by_episode
from serl_reward.metrics import format_metrics
from serl_reward.model_file import save_model
from serl_reward.training import fit_classifier, TrainConfig
import torch

#: Fewer success frames than this get a note: the classifier sees too few success states.
MIN_POSITIVES = 50


def build_parser():
    """Return the argument parser of ``serl_train_reward``."""
    parser = argparse.ArgumentParser(
        prog='serl_train_reward', description=__doc__.split('\n\n')[1],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('bags', nargs='*', help='Transition bags or directories of bags')
    parser.add_argument('--labels', nargs='*', default=[],
                        help='.npz files of labelled frames (answered queries)')
    parser.add_argument('--output', required=True, help='model file to write')
    parser.add_argument('--image-keys', nargs='+', default=['front', 'wrist'])
    parser.add_argument('--image-size', nargs=2, type=int, default=[128, 128],
                        metavar=('HEIGHT', 'WIDTH'))
    parser.add_argument('--topic', default='/serl/transitions')
    parser.add_argument('--steps', type=int, default=TrainConfig.steps)
    parser.add_argument('--batch-size', type=int, default=TrainConfig.batch_size)
    parser.add_argument('--learning-rate', type=float, default=TrainConfig.learning_rate)
    parser.add_argument('--shift-pad', type=int, default=TrainConfig.shift_pad)
    parser.add_argument('--target-fpr', type=float, default=TrainConfig.target_fpr)
    parser.add_argument('--min-threshold', type=float, default=TrainConfig.min_threshold,
                        help='lowest decision threshold chosen, in [0, 1) (the held-out '
                             'failure frames may allow a lower one)')
    parser.add_argument('--holdout', type=float, default=0.2,
                        help='share of frames (whole episodes) held out')
    parser.add_argument('--pretrained-encoder', default='',
                        help='TorchScript file of a frozen encoder (optional)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--threads', type=int, default=2, help='torch CPU threads')
    return parser


def main(argv=None):
    """Run the command; returns the process exit status (0 ok, 2 bad input)."""
    args = build_parser().parse_args(argv)
    torch.set_num_threads(max(1, args.threads))
    config = ClassifierConfig(image_keys=tuple(args.image_keys),
                              image_size=tuple(args.image_size),
                              pretrained_encoder_path=args.pretrained_encoder)
    try:
        config.validate()
        if not args.bags and not args.labels:
            raise ValueError('give at least one bag or --labels file')
        if not 0.0 <= args.min_threshold < 1.0:
            raise ValueError(f'--min-threshold must be in [0, 1), got {args.min_threshold}')
        datasets = []
        if args.bags:
            datasets.append(read_labelled_frames(args.bags, config.image_keys,
                                                 config.image_size, args.topic))
        datasets += [load_npz(p).select_keys(config.image_keys, config.image_size)
                     for p in args.labels]
        data = concatenate(datasets)
        print(f'data: {data.summary()}')
        if data.num_positive < MIN_POSITIVES:
            print(f'note: only {data.num_positive} success frames (demos that end at their first '
                  'success give one each): expect low recall on success states unlike those; '
                  'add held-success frames or labelled bags (--labels) for more')
        train, heldout = split_by_episode(data, args.holdout, seed=args.seed)
        print(f'train: {train.summary()}\nheld-out: {heldout.summary()}')
        train_config = TrainConfig(steps=args.steps, batch_size=args.batch_size,
                                   learning_rate=args.learning_rate,
                                   shift_pad=args.shift_pad, target_fpr=args.target_fpr,
                                   min_threshold=args.min_threshold, seed=args.seed)
        classifier, metrics = fit_classifier(train, heldout, config, train_config, log=print)
    except (BagReadError, DatasetError, ValueError, OSError) as error:
        print(f'serl_train_reward: error: {error}', file=sys.stderr)
        return 2
    print(f'held-out: {format_metrics(metrics)}')
    print(f'threshold={classifier.threshold:.4f} (target FPR {args.target_fpr}, at least '
          f'{args.min_threshold})')
    save_model(args.output, classifier, metrics)
    print(f'wrote {args.output}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
