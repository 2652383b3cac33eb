# serl-ros2: every target sets the workspace up first (idempotent, seconds when done).
.PHONY: setup test train sim bench clean

setup:
	bash scripts/setup.sh

test:
	bash scripts/test.sh

train: setup
	bash scripts/train.sh $(ARGS)

sim: setup
	bash -c 'source env.sh && serl_launch sim'

bench: setup
	bash scripts/bench.sh

clean:
	rm -rf build install log
