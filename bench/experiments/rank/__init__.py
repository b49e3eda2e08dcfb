"""LWGAN's intrinsic-dimension estimate (`bench rank`)."""
