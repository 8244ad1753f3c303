"""Tests of the fixes package."""
