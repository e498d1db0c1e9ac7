"""Pure core: models, state machines, planning and offer matching. No I/O, no clock of its own."""
