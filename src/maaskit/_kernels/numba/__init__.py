"""Kernel implementations, one module per kernel name (see ``maaskit._backend``)."""
