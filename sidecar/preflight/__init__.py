"""`sidecar preflight` and `sidecar volumes`: the host-side half of the sidecar.

Run before `podman-compose up` / `docker compose up`, preflight works out the project name and
the real name of every named volume exactly as the compose tool would, asks the engine which
volumes exist, and refuses (exit 2) the start that would create a new, empty database volume
while a volume with the same key under another project holds the data: the 27.11.2025
incident. `sidecar volumes` answers the question asked during such an incident: which twin
holds the data, which one the stack runs on, and how to come back.

Layers point down: `cli` -> `render` -> `verdict` / `recover` -> `stack` -> `project` /
`compose_file` -> `interpolation` / `dotenv`; `engines` and `sizes` observe the host. Nothing
here connects to a database or to the network.
"""
