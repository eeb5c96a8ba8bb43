"""The scans: listing and splitting the sources, duplicates, outlines, augmentation and domain views, feature cache."""
