"""Synthetic presentation-attack videos (printed photos, screen replays) made from the dev data.

    python -m tools.synth --data ../shared/data --out benchmarks/.cache/synth \
        [--seed 0] [--per-kind 100] [--seconds 4.0] [--jobs 2] [--kinds print,replay]

Real attack videos are scarce (two in the dev data), so the liveness fit and benchmark add
synthetic ones. They are reported apart from real attacks, and they are also used to fit the
fusion weights of the liveness classifier, so each video is built from a physical model of the
capture rather than from image filters, and every quantity a cue could latch on to (background,
bitrate, frame rate, motion, size, orientation, exposure, noise) is drawn at random per video.

Modules: ``basics`` (array types, random draws, sRGB and linear light), ``geometry`` (poses,
hand motion, planes and their homographies, bent sheets), ``shapes`` (anti-aliased drawing,
hands), ``data`` (the data folder, clips read upright, the face detector), ``rooms``
(backgrounds), ``camera`` (sensor, pipeline, encoder), ``scene`` (room, camera shake, gloss),
``prints``, ``replays``, ``cli`` (jobs, checks, manifest).

Sources: photos of ``nuaa/live``, ``msu/live`` and ``lfw``, and the clips of ``video/live`` and
``wild/live`` (phone and webcam selfies: any size and orientation, rotation tags, variable frame
rates). Replays play every clip of both folders, each a few times at other offsets; prints show
photos or frames grabbed from the clips. Clips are read upright (the display matrix's rotation
applied) and timed by their timestamps.

Output: ``OUT/print/pNNN.mp4``, ``OUT/replay/rNNN.mp4`` (H.264 ``libx264``, yuv420p; 80 % VGA
(640×480), 10 % HD (1280×720), 10 % CIF or QCIF (352×288, 176×144), each landscape or, for some,
portrait; 30, 25 or 15 fps; CRF 18–30, random preset/GOP/B-frames/profile) and
``OUT/manifest.json``: ``{"provenance": {...}, "videos": [...]}``. The provenance holds the
tool, the commit (``-dirty`` if the work tree had changes), the seed, the arguments, the data
(the ``--data`` path as given, the number of files the plan drew from and a SHA-256 over their
relative paths and sizes: ``tools.provenance``) and the platform. Each video is
``{"file", "kind", "source", "group", "clip", "hard", "params"}``: ``source`` is the path,
relative to ``--data``, of the photo or clip the face comes from; ``group`` is its source as
``tools.sources`` names it (``clip_source`` for a clip, ``photo_source`` for a photo: what
leave-one-source-out cross-validation splits on, shared with the live windows of the same
clips); ``clip`` is ``{"path", "start_s", "seconds"}`` for a video made from a clip (the part
played, or for a print the frame grabbed, ``seconds`` 0) and null for a photo. ``hard`` marks
the 25 % per kind whose device or paper edges never enter the frame; 40 % of those are drawn as
close-ups (where the photo or clip allows: 8 prints and 4 replays of 100 in the default run), the
face 45–70 % of the frame's width, or of a 4:3 frame's for wider frames (a sheet moved closer to
keep the frame covered may reach 79 %). ``params`` holds every random draw that shapes the video
(sizes, poses, motion, bend, print and display model, camera, encoder, attempt).

Every output is checked: YuNet (score ≥ 0.6) must find the attack's face, where the geometry puts
it, in the middle frame decoded from the written file; otherwise the video is made again with
other random draws or another source (the attempt number is in ``params``, and a slot is left
empty after four failures).

Determinism. Every video has its own generator seeded from ``(seed, kind, index, attempt)``,
x264 runs with one thread and nothing depends on the order or the process in which videos are
made, so one seed gives the same videos, byte for byte, on one machine: two full runs of the
former generator (120 videos, 2 worker processes) matched in every rendered frame and file, and
so did single-process runs with 1, 2 or 8 OpenCV threads, 1 or 8 OpenBLAS threads, one CPU or
two, jobs in reverse order. Across machines it does not hold: NumPy and OpenCV choose SIMD
kernels for the CPU (SSE4, AVX2, AVX-512), and those round differently in the last bit. On this
machine with NumPy held to its SSE4 baseline, 16 of 20 videos changed by a few pixel levels in
some frames (8 of them in their bytes) with all their parameters equal; with OpenCV held to
SSE4, all 20 did. That most likely explains three full runs on 2026-11-24 that differed in the
same 13 of 120 files by tiny pixel changes (one of them on another kind of CPU; on one machine
it could not be reproduced). The manifest's provenance records the platform for that reason.

Physics simulated
-----------------
* Scene and camera. Everything is composed in linear light. A pinhole camera (focal length
  0.7–1.0× the frame's long side: 53–71° across a 4:3 landscape frame) looks at a room: a
  background plate far away (a NUAA/MSU frame or a live-clip frame with the people in-painted
  away, or a procedural room of walls, doors, windows, shelves, lights and posters), defocused
  because the camera focuses on the attack instrument held close to it.
  Behind a held print there may be the attacker's torso.
* Motion. The paper or device is a plane placed in 3-D (yaw/pitch up to 15°, roll up to 10°;
  6–8/6–8/4–5° for the hard cases) and projected with the exact plane-induced homography
  ``K [r1 r2 t]``. It moves as a held object: per degree of freedom a sum of 2–4 sinusoids at
  1–8 Hz with random phases and amplitudes falling as f^-1.5 (hand tremor) plus a slow
  sinusoidal and linear drift; a propped sheet or a monitor barely moves. About 25 % of the
  prints and of the hand-held phones and tablets (never hard ones) are shown to the camera:
  large slow turns (yaw or pitch sweeping 10–25° over the clip, the other 0.3–1× that, roll
  2–6°) and shifts (3–8 cm sideways, 2–6 cm vertically, 4–12 cm in depth; less where the face
  would leave the frame), recorded as ``object_sweep``. The camera is static (a webcam) or
  hand-held; camera shake rotates and shifts the whole view (the background through the
  homography of a plane 1.5–4 m away, the near object through its own pose), so the face moves
  with, or apart from, its surroundings as a planar attack does. When the image moves more than
  1.5 px during the exposure, the room and the object are each smeared along their own motion.
* Print. The photo (optionally auto-levelled) is re-rendered as a reflective print: ink tone
  curve and gamut (gamma, desaturation), ink black at 1.5–5 % and a warm paper white (72–88 %
  reflectance, less blue), optionally an amplitude-modulated CMY halftone (screen angles
  0/15/75°, period 0.7–2.2 camera pixels) or inkjet grain (binomial, strongest in mid-tones),
  ink spread and the camera pixel's aperture as blur, paper fibre noise, printer banding, a
  lighting gradient, a Lambertian brightness change as the sheet tilts and an optional glossy
  highlight. Layouts: the whole photo, a head-and-shoulders crop, or the head cut out along a
  scissor outline (no straight edges); some with a white paper margin (sometimes a photo on a
  larger sheet); some held by hands: a thumb over the edge, the palm and the forearm (bare or in
  a sleeve) behind it and running out of the picture. Paper size and distance (12–90 cm) are
  chosen so that the face spans 15–45 % of the frame width (at least 48 px). About 30 % of the
  sheets are bent: a cylinder about a vertical or horizontal axis through the sheet's centre, of
  radius 1–4× the sheet's extent across the bend, bulging towards or away from the camera, whose
  curvature a hand flexes by ±10–25 % at 0.15–0.6 Hz with 1–4 % of tremor at 3–8 Hz. It is drawn
  as 8–16 planar facets (each a plane of its own, overlapping its neighbours by a texel, joined
  before motion blur so that no seam shows), each lit by its own normal, so the shading changes
  across the bend; thumbs bend with the sheet, palms and forearms stay flat behind it (``bend``
  in ``params``).
* Replay. The clip plays on a phone, tablet, monitor or laptop (rounded bezels with a lit rim,
  front cameras, punch holes, speaker slits, logos, a monitor stand, a desk plane, a keyboard
  deck on its own hinged plane, hands holding phones and tablets). The screen is emissive: its
  content goes through a display transfer (gamma 1.9–2.6, colour temperature, saturation, black
  level from backlight leakage or none for OLED, brightness) and is modulated by the panel's RGB
  sub-pixel stripes (one triad per panel pixel, in the panel's native orientation) and row gaps.
  That grid reaches the camera at 0.85–2.5 panel pixels per output pixel (varying across a
  tilted screen); the camera's pixel aperture and lens blur it (a Gaussian of 0.22–0.45 px)
  before the sensor samples it, and what aliases is the moiré, from invisible to strong. The
  stripes are band-limited, so the blurred grid is evaluated exactly at every output pixel
  through the inverse homography: the same result as warping a texture with 2–4 texels per
  triad, without the texture. Content is letter-boxed, cropped to fill, zoomed or shown in a
  desktop window (sometimes with a progress bar); it runs at its own frame rate (the clip's, or
  15/20/24 fps; variable-rate clips by their timestamps), so frames repeat or skip against the
  camera's clock. Also simulated: view-angle contrast loss (strong for LCDs, weak for OLEDs), a
  specular glare and a faint mirror image of the room on the glass that slide as the device
  turns, and rolling refresh banding.
* Camera. Vignetting, lens blur, auto-exposure that meters the centre and converges with a time
  constant (sometimes hunting), a white-balance error, signal-dependent shot noise plus read
  noise, lowered and coarsened by a denoiser, a tone curve with highlight shoulder, S-curve and
  black lift, sharpening, and the H.264 encode.

What the synthetic set cannot represent
---------------------------------------
Crumpled, folded or cut-out-eye prints and masks (bends are smooth cylinders); real paper/ink
spectra and metamerism; true
specular reflections of the actual room; a display's real pixel layout (PenTile, PWM flicker,
local dimming) and the camera's Bayer demosaicing, which shape real moiré; rolling-shutter skew;
depth of field that varies across a tilted plane. Hands, forearms and torsos are flat shaded
shapes in the plane of the paper or device (no parallax, no fingers moving, no pulse: real
attackers' hands carry an rPPG signal); nobody's head ever peeks around the instrument. No
audio; no real phone/webcam pipelines (temporal denoising, HDR, beauty filters, rate control).
The faces come from few people (9 NUAA subjects, 15 MSU clients, LFW, 10 demo clips and 28 selfie
clips of 14 people), the replays re-use those 38 clips (so their content, green screens,
watermarks and talking-head artefacts included, is over-represented), every video lasts
``--seconds`` (less for a replay of a shorter clip) and has one of five frame sizes. Treat results
on this set as a sanity check and a training aid, never as a substitute for real attacks.
"""
