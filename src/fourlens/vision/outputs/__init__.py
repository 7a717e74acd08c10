"""What each `fourlens vision` command writes: one function per command that computes and lays out its
pictures and JSON in an `OutputFolder` (checked before any work). The CLI parses, calls one of these,
and prints."""

from fourlens.vision.outputs.folder import OutputFolder, check_writable_folder, png_bytes

__all__ = ["OutputFolder", "check_writable_folder", "png_bytes"]
