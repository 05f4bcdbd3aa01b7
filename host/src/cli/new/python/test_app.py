"""Runs the step in plain Python: `.venv/bin/python -m unittest`."""

import unittest

import cairn_sdk as cairn

from app import {{type}}


class {{type}}Test(unittest.TestCase):
    def test_counts_words(self):
        output = {{type}}().run(cairn.Context.local(), {}, {"text": "one two three"})
        self.assertEqual(output, {"words": 3})

    def test_min_length(self):
        output = {{type}}().run(cairn.Context.local(), {"min_length": 4}, {"text": "one two three"})
        self.assertEqual(output, {"words": 1})


if __name__ == "__main__":
    unittest.main()
