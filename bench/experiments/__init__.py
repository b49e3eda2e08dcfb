"""LWGAN / Iso-LWGAN experiments: each module is a library function returning a results object,
plus the report it writes. The `bench` commands only parse options, call them and print."""
