"""Operator commands that fix up stored data after an upgrade (`tme reattribute`)."""
