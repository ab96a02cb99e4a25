"""Privileged-distillation training of RIFE's IFNet (``python -m vsrife train``)."""

from .data import Batch, folder_source, make_batch, read_video, split, val_batches, video_source
from .losses import Losses, compute_losses, distill_loss, laplacian_loss, psnr
from .teacher import TEACHER_ORDERS, CalTime, TeacherOutput, teacher_forward
from .trainer import SMALL, TrainConfig, Trainer, export_student, freezable, init_net

__all__ = [
    "SMALL", "TEACHER_ORDERS", "Batch", "CalTime", "Losses", "TeacherOutput", "TrainConfig", "Trainer",
    "compute_losses", "distill_loss", "export_student", "folder_source", "freezable", "init_net", "laplacian_loss",
    "make_batch", "psnr", "read_video", "split", "teacher_forward", "val_batches", "video_source",
]
