"""Tests of handpose.inference (a package so helper modules import relatively)."""
