"""
``serl_train``'s steps (:mod:`serl_bringup.main_job` runs them in order), one module each.

- :mod:`~serl_bringup.job.cli`: the command line.
- :mod:`~serl_bringup.job.preflight`: the checks before any step (run directory, other graphs).
- :mod:`~serl_bringup.job.record`: step 1, demos and explorer episodes through the live graph
  (:mod:`~serl_bringup.job.bags`: the run's episode bags).
- :mod:`~serl_bringup.job.pretrain`: step 2, the reward classifier and the image encoder.
- :mod:`~serl_bringup.job.training_params`: step 3's graph arguments and parameter files.
- :mod:`~serl_bringup.job.train_rl`: step 3, the training graph watched to its target or budget
  (:mod:`~serl_bringup.job.graph_watch`: the graph and its monitor;
  :mod:`~serl_bringup.job.forward_backward`: the two-direction, reset-free variant).
- :mod:`~serl_bringup.job.common` and :mod:`~serl_bringup.job.launched_graph`: the log line, the
  error, YAML files, a ``serl_launch`` child process (``serl_eval`` uses it too).
"""
