"""Segments: named rules over player attributes and metrics, and their stored membership."""
