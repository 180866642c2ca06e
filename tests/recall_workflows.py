"""Workflows built in code for the recall tests: what exported workflows of this project do not show."""

from __future__ import annotations

from typing import Any


def node(node_id: str, node_type: str, **values: Any) -> dict:
    inputs = {name: {"name": name, "label": "", "value": value} for name, value in values.items()}
    return {
        "id": node_id,
        "type": "invocation",
        "position": {"x": 0, "y": 0},
        "data": {
            "id": node_id,
            "type": node_type,
            "label": "",
            "inputs": inputs,
            "isIntermediate": True,
            "useCache": True,
        },
    }


def model(name: str, type_: str, base: str = "sd-1") -> dict:
    return {"key": f"key-of-{name}", "hash": f"hash-of-{name}", "name": name, "base": base, "type": type_}


def edges(*pairs: tuple[str, str]) -> list[dict]:
    out = []
    for source, target in pairs:
        (src, out_name), (dst, in_name) = source.split("."), target.split(".")
        out.append(
            {
                "id": f"{source}-{target}",
                "type": "default",
                "source": src,
                "target": dst,
                "sourceHandle": out_name,
                "targetHandle": in_name,
            }
        )
    return out


def rich_workflow() -> dict:
    """SD-1.5 image to image with two LoRAs, seamless, clip skip, a separate VAE, two ControlNets, an IP adapter."""
    nodes = [
        node("loader", "main_model_loader", model=model("my-sd15", "main")),
        node("lora1", "lora_loader", lora=model("style-lora", "lora"), weight=0.5, unet=None, clip=None),
        node("lora2", "lora_loader", lora=model("detail-lora", "lora"), weight=-1.25, unet=None, clip=None),
        node("seam", "seamless", seamless_x=True, seamless_y=False, unet=None, vae=None),
        node("skip", "clip_skip", skipped_layers=2, clip=None),
        node("text", "string", value="a castle"),
        {
            "id": "relay",
            "type": "connector",
            "position": {"x": 0, "y": 0},
            "data": {"id": "relay", "type": "connector", "label": "", "isOpen": True},
        },
        node("pos", "compel", prompt="", clip=None),
        node("neg", "compel", prompt="fog", clip=None),
        node("posc", "collect", item=None),
        node("init", "image", image={"image_name": "init.png"}),
        node("vae", "vae_loader", vae_model=model("better-vae", "vae")),
        node("i2l", "i2l", image=None, vae=None),
        node("noise", "noise", seed=99, width=512, height=768),
        node(
            "cn1",
            "controlnet",
            control_model=model("canny", "controlnet"),
            image={"image_name": "edges.png"},
            control_weight=0.8,
            begin_step_percent=0.1,
            end_step_percent=0.9,
            control_mode="more_control",
        ),
        node(
            "cn2",
            "controlnet",
            control_model=model("depth", "controlnet"),
            control_weight=1.5,
            control_mode="unbalanced",
        ),
        node("controls", "collect", item=None),
        node(
            "ip",
            "ip_adapter",
            ip_adapter_model=model("ip-plus", "ip_adapter"),
            image={"image_name": "face.png"},
            weight=0.6,
            begin_step_percent=0,
            end_step_percent=1,
            method="style",
        ),
        node(
            "den",
            "denoise_latents",
            steps=25,
            cfg_scale=6.5,
            scheduler="dpmpp_2m",
            denoising_start=0.3,
            cfg_rescale_multiplier=0.2,
        ),
        node("out", "l2i", board=None),
    ]
    links = edges(
        ("loader.unet", "lora1.unet"),
        ("loader.clip", "lora1.clip"),
        ("lora1.unet", "lora2.unet"),
        ("lora1.clip", "lora2.clip"),
        ("lora2.unet", "seam.unet"),
        ("lora2.clip", "skip.clip"),
        ("seam.unet", "den.unet"),
        ("skip.clip", "pos.clip"),
        ("skip.clip", "neg.clip"),
        ("text.value", "relay.in"),
        ("relay.out", "pos.prompt"),
        ("pos.conditioning", "posc.item"),
        ("posc.collection", "den.positive_conditioning"),
        ("neg.conditioning", "den.negative_conditioning"),
        ("noise.noise", "den.noise"),
        ("init.image", "i2l.image"),
        ("vae.vae", "i2l.vae"),
        ("i2l.latents", "den.latents"),
        ("cn1.control", "controls.item"),
        ("cn2.control", "controls.item"),
        ("controls.collection", "den.control"),
        ("ip.ip_adapter", "den.ip_adapter"),
        ("den.latents", "out.latents"),
        ("vae.vae", "out.vae"),
    )
    fields = [
        ("text", "value"),
        ("lora1", "weight"),
        ("cn1", "control_weight"),
        ("ip", "image"),
        ("noise", "seed"),
        ("out", "board"),
        ("den", "denoising_start"),
        ("init", "image"),
    ]
    elements = {
        "root": {
            "id": "root",
            "type": "container",
            "data": {"layout": "column", "children": [f"f-{n}-{f}" for n, f in fields]},
        }
    }
    for node_id, field_name in fields:
        elements[f"f-{node_id}-{field_name}"] = {
            "id": f"f-{node_id}-{field_name}",
            "type": "node-field",
            "parentId": "root",
            "data": {"fieldIdentifier": {"nodeId": node_id, "fieldName": field_name}},
        }
    return {
        "name": "rich",
        "meta": {"version": "4.0.0", "category": "user"},
        "nodes": nodes,
        "edges": links,
        "form": {"elements": elements, "rootElementId": "root"},
    }
