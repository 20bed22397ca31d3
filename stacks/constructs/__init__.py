"""One construct per part of the system; stacks only assemble them and wire grants."""
