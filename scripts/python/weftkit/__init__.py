"""What Weft's Python tests (test/), measurement scripts (bench/) and helper scripts
(scripts/) share: one pcap reader and writer (pcap), commands and processes (proc),
network namespaces and veths (netns), the small weft-gen scenarios and the alerts they
must raise (scenarios), and the JSON documents of Weft's tools (docs).

It lives outside test/ so that bench/ and scripts/ need nothing from the test tree. Tests
find it through test/pytest.ini's `pythonpath`; a script run by hand adds
scripts/python to sys.path itself, in one commented line."""
