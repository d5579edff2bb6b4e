"""Instance-aligned annotation (VIEW360+'s pipeline): role prompts → propagated masks → captions → gt.json.

Modules: `prompts` (the annotation tool's text format and `*.instances.json`, parse and export),
`seeds` (a prompt box/points → a mask), `propagate` (tracker passes forward and backward from the
prompt frames), `build` (masks → `ego360-gt/1` records, events, predictions), `captions` (VLM or
template captions per entity), `review` (review file, `--apply-review`), `runner` (one video,
resumable; many videos in processes or Ray). See docs/annotations.md.
"""
