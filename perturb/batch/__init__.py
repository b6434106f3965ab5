"""The batch machinery: one numpy call perturbs the reports of a whole pack.

- `pack`: `Pack`, many reports laid end to end in one index space;
- `word_groups`: `WordGroups`, the words of a scope grouped into the groups they move within,
  and the trigrams of each group;
- `candidates`: `Candidates` and `Substitute`, the word replacements a kernel may make;
- `kernels`: `PackedEdit` (what a kernel returns) and the `Kernel` type;
- `run`: `apply_batch` / `apply_requests`, which run each kind's kernel over a pack and redraw
  the reports whose draw reproduced the original;
- `arrays`: index-array helpers.

Modules are imported one by one (this file imports none), so that the engine's lower layers can
use `arrays` without loading the runner.
"""
