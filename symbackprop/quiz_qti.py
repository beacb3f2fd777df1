"""A quiz as a QTI 1.2 zip for Canvas: one numerical question per asked quantity and variant, a group per quantity.

Canvas has no cloze question, and a quiz draws questions from a group one at a
time, independently of its other groups; so each asked quantity is a question
group ("pick 1") holding that quantity of every variant, and each question shows
its variant's numbers in full. The shapes are those Canvas exports: itemmetadata
``question_type`` numerical_question, a ``render_fib fibtype="Decimal"`` answer
box, the correct value as ``varequal`` or a ``vargte``/``varlte`` range (its
tolerance), the general feedback on ``<other/>``. Each mistake's value is a further
range that shows its own feedback and scores 0. text2qti writes Canvas QTI from a
plain-text quiz format, but it has no feedback for particular wrong numbers and
builds its XML by string templates, so this module writes the XML with ElementTree.
"""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
import zipfile

import markupsafe

from symbackprop import quiz, quiz_html

QTI = "http://www.imsglobal.org/xsd/ims_qtiasiv1p2"
MANIFEST = "http://www.imsglobal.org/xsd/imsccv1p1/imscp_v1p1"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
ASSESSMENT = "symbackprop_quiz"  # the assessment's identifier and its folder in the zip
_DATE = (1980, 1, 1, 0, 0, 0)  # zip entries' time: the same quiz gives the same bytes


def package(document: quiz.Quiz) -> bytes:
    """The zip Canvas imports (Settings → Import course content → QTI .zip file)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in (("imsmanifest.xml", manifest()), (f"{ASSESSMENT}/{ASSESSMENT}.xml", assessment(document))):
            archive.writestr(zipfile.ZipInfo(name, date_time=_DATE), data)
    return buffer.getvalue()


def manifest() -> bytes:
    """imsmanifest.xml: one resource, the QTI assessment."""
    root = ET.Element("manifest", identifier=f"{ASSESSMENT}_manifest")
    metadata = ET.SubElement(root, "metadata")
    ET.SubElement(metadata, "schema").text = "IMS Content"
    ET.SubElement(metadata, "schemaversion").text = "1.1.3"
    ET.SubElement(root, "organizations")
    resources = ET.SubElement(root, "resources")
    resource = ET.SubElement(resources, "resource", identifier=ASSESSMENT, type="imsqti_xmlv1p2")
    ET.SubElement(resource, "file", href=f"{ASSESSMENT}/{ASSESSMENT}.xml")
    return _bytes(root, MANIFEST)


def assessment(document: quiz.Quiz) -> bytes:
    """The QTI 1.2 assessment: a question group per asked quantity, a numerical question per variant in each."""
    words = quiz_html.Words(document.lang)
    title = document.title or markupsafe.Markup(words.say("default_title")).unescape()
    root = ET.Element("questestinterop")
    root.set(f"{{{XSI}}}schemaLocation", f"{QTI} http://www.imsglobal.org/xsd/ims_qtiasiv1p2p1.xsd")
    test = ET.SubElement(root, "assessment", ident=ASSESSMENT, title=title)
    _metadata(test, {"cc_maxattempts": "1"})
    top = ET.SubElement(test, "section", ident="root_section")
    width = len(str(len(document.variants)))
    for position, first in enumerate(document.variants[0].blanks):
        group = ET.SubElement(top, "section", ident=f"group_{position + 1}", title=first.name)
        selection = ET.SubElement(ET.SubElement(group, "selection_ordering"), "selection")
        ET.SubElement(selection, "selection_number").text = "1"
        ET.SubElement(ET.SubElement(selection, "selection_extension"), "points_per_item").text = "1"
        for variant in document.variants:
            name = markupsafe.Markup(words.say("question_name", title, f"{variant.number:0{width}d}")).unescape()
            _item(group, document, variant, variant.blanks[position], words,
                  ident=f"v{variant.number}_q{position + 1}", title=f"{name}: {first.name}")  # fmt: skip
    return _bytes(root, QTI)


def _item(group: ET.Element, document: quiz.Quiz, variant: quiz.Variant, blank: quiz.Blank, words: quiz_html.Words, *,
          ident: str, title: str) -> None:  # fmt: skip
    item = ET.SubElement(group, "item", ident=ident, title=title)
    answers = [f"{ident}_correct", *(f"{ident}_wrong{k + 1}" for k in range(len(blank.wrong)))]
    _metadata(ET.SubElement(item, "itemmetadata"), {
        "question_type": "numerical_question", "points_possible": "1", "original_answer_ids": ",".join(answers[:1]),
        "assessment_question_identifierref": f"{ident}_ref",
    })  # fmt: skip
    presentation = ET.SubElement(item, "presentation")
    text = words.render("question.html.j2", course=document.course, architecture=document.architecture, data=variant.data,
                        decimals=document.decimals, blanks=(blank,), sections=(blank.section,), fields=None)  # fmt: skip
    _mattext(ET.SubElement(presentation, "material"), text)
    response = ET.SubElement(presentation, "response_str", ident="response1", rcardinality="Single")
    ET.SubElement(ET.SubElement(response, "render_fib", fibtype="Decimal"), "response_label", ident="answer1")

    processing = ET.SubElement(item, "resprocessing")
    outcomes = ET.SubElement(processing, "outcomes")
    ET.SubElement(outcomes, "decvar", maxvalue="100", minvalue="0", varname="SCORE", vartype="Decimal")
    general = ET.SubElement(processing, "respcondition", {"continue": "Yes"})
    ET.SubElement(ET.SubElement(general, "conditionvar"), "other")
    ET.SubElement(general, "displayfeedback", feedbacktype="Response", linkrefid="general_fb")
    # the correct range first: a response in two ranges is right, as in Moodle
    correct = ET.SubElement(processing, "respcondition", {"continue": "No"})
    either = ET.SubElement(ET.SubElement(correct, "conditionvar"), "or")
    ET.SubElement(either, "varequal", respident="response1").text = _number(blank.value)
    _range(ET.SubElement(either, "and"), blank.value, blank.tolerance)
    ET.SubElement(correct, "setvar", action="Set", varname="SCORE").text = "100"
    ET.SubElement(correct, "displayfeedback", feedbacktype="Response", linkrefid="correct_fb")
    for answer, wrong in zip(answers[1:], blank.wrong):
        condition = ET.SubElement(processing, "respcondition", {"continue": "No"})
        _range(ET.SubElement(condition, "conditionvar"), wrong.value, blank.tolerance)
        ET.SubElement(condition, "displayfeedback", feedbacktype="Response", linkrefid=f"{answer}_fb")

    _feedback(item, "general_fb", words.render("solution.html.j2", blanks=(blank,), decimals=document.decimals))
    _feedback(item, "correct_fb", words.say("correct"))
    for answer, wrong in zip(answers[1:], blank.wrong):
        _feedback(item, f"{answer}_fb", words.causes(wrong.causes))


def _range(parent: ET.Element, value: float, tolerance: float) -> None:
    ET.SubElement(parent, "vargte", respident="response1").text = _number(value - tolerance)
    ET.SubElement(parent, "varlte", respident="response1").text = _number(value + tolerance)


def _feedback(item: ET.Element, ident: str, html: str) -> None:
    flow = ET.SubElement(ET.SubElement(item, "itemfeedback", ident=ident), "flow_mat")
    _mattext(ET.SubElement(flow, "material"), html)


def _mattext(material: ET.Element, html: str) -> None:
    # a plain str: ElementTree escapes with str.replace, which markupsafe.Markup overrides to escape once more
    ET.SubElement(material, "mattext", texttype="text/html").text = str(html)


def _metadata(parent: ET.Element, fields: dict[str, str]) -> None:
    block = ET.SubElement(parent, "qtimetadata")
    for label, entry in fields.items():
        field = ET.SubElement(block, "qtimetadatafield")
        ET.SubElement(field, "fieldlabel").text = label
        ET.SubElement(field, "fieldentry").text = entry


def _number(value: float) -> str:
    return repr(float(value))


def _bytes(root: ET.Element, namespace: str) -> bytes:
    # the tags are unqualified and the root declares the default namespace: the file reads as Canvas writes it
    # (ElementTree's default_namespace refuses unqualified attributes, and register_namespace is process-wide)
    root.set("xmlns", namespace)
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"
