# serl-ros2: every target sets the workspace up first (idempotent, seconds when done).
.PHONY: setup test train sim bench clean

setup:
	bash scripts/setup.sh

test:
	bash scripts/test.sh

train: setup
	bash scripts/train.sh $(ARGS)

# The sim graph with the sim's own success as reward: a fresh clone has no reward classifier
# yet (make train trains one; then: serl_launch sim reward_model:=runs/pick_cube/...).
sim: setup
	bash -c 'source env.sh && serl_launch sim reward:=ground_truth $(ARGS)'

bench: setup
	bash scripts/bench.sh

clean:
	rm -rf build install log
