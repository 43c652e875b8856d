"""A local emulator of the Edge Impulse Studio API that labelnoise uses.

It serves, under `/v1`, the project, sample, data-quality job and
label-noise endpoints with Studio's paths, JSON names and `success`/`error`
envelope, for one or more projects with their own API keys. The
data-quality job computes real label-noise metrics (`emulator.engine`) on
the project's sensor samples, by default the bundled BasicMotions dataset.

Start it with `labelnoise emulator`, or in-process with
`emulator.server.EmulatorServer.start()`. A control API under `/_emulator`,
which needs no key, injects faults (`emulator.faults`), rejects the trigger
call the way a non-staff key may be rejected, embeds samples in results,
pauses jobs and resets the state; `emulator.control` lists its routes.

Only tests, the demo and the `labelnoise emulator` command import this
package.
"""
