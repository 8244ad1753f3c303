"""Tests of the monitoring package."""
