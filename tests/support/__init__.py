"""What only the tests use (a settable clock, layer binary checks, the two-environment release world, a toy model);
what the rehearsal and the benches use too lives in testbed/."""
