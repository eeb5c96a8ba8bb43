"""The saliency report's wording: the gallery's captions, in the visitor's language (the images hold no words)."""

from model.i18n import use_language
from model.report.saliency_report import gallery_caption
from model.schema.records import GalleryEntry

ITEM = GalleryEntry("best", "Training/glioma_tumor/gg (1).jpg", 0, "saliency_gallery/best_1.png", {"Grad-CAM": 0.61})
NAMES = ["Glioma", "Meningioma", "No tumour", "Pituitary tumour"]


def test_a_gallery_caption_names_the_class_the_scan_and_each_maps_share_in_the_visitors_language():
    try:
        use_language("fr")
        french = gallery_caption(ITEM, NAMES)
    finally:
        use_language("en")
    english = gallery_caption(ITEM, NAMES)
    assert english.startswith("Glioma · Training/glioma_tumor/gg (1).jpg: the scan") and "Grad-CAM (61%)" in english
    assert french.startswith("Gliome · ") and "contour des radiologues" in french and "Grad-CAM (61" in french
