"""The repository's Makefile: every target it declares has a rule make can run."""

from pathlib import Path
import re
import subprocess

ROOT = Path(__file__).resolve().parents[3]


def test_every_phony_target_has_a_rule():
    text = (ROOT / 'Makefile').read_text()
    phony = re.search(r'^\.PHONY:(.*)$', text, re.M).group(1).split()
    rules = set(re.findall(r'^([A-Za-z_-]+):', text, re.M))
    assert set(phony) <= rules, f'declared without a rule: {sorted(set(phony) - rules)}'
    for target in phony:   # make can plan each one (-n: print, run nothing)
        done = subprocess.run(['make', '-n', '-C', str(ROOT), target], capture_output=True,
                              text=True, timeout=30)
        assert done.returncode == 0, (target, done.stderr)
    bench = subprocess.run(['make', '-n', '-C', str(ROOT), 'bench'], capture_output=True,
                           text=True, timeout=30).stdout
    assert 'scripts/bench.sh' in bench
    for name in re.search(r'BENCHES=\((.*)\)', (ROOT / 'scripts' / 'bench.sh').read_text()
                          ).group(1).split():
        assert (ROOT / 'bench' / f'{name}.py').exists(), name
