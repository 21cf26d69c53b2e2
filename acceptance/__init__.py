"""The acceptance suite: a minimal copy of the stacks in a scratch environment of a real account, one guarded release
and one forced rollback, and an assertion per undocumented AWS behaviour (docs/acceptance.md)."""
