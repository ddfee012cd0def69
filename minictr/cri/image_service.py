"""runtime.v1.ImageService over the engine's image store (each gRPC worker
thread gets its own database connection from the engine). Answers follow
containerd: ImageStatus of an unknown image is an empty response, and
RemoveImage of one is a success; PullImage uses the registries config
(mirrors for docker.io, registry.k8s.io…) the CLI's pull uses."""
from __future__ import annotations

import logging
import time

import grpc

from minictr.cri import memory
from minictr.cri.errors import CriError, invalid
from minictr.cri.image_auth import PullAuth
from minictr.cri.image_fs import image_fs_info
from minictr.cri.image_views import to_image, verbose_info
from minictr.cri.v1 import api_pb2 as pb
from minictr.cri.v1 import api_pb2_grpc
from minictr.errors import MinictrError
from minictr.image.errors import NotFound
from minictr.image.pull import pull
from minictr.image.records import AmbiguousImage
from minictr.image.registry.client import RegistryClient
from minictr.image.registry.transport import Transport
from minictr.image.remove import remove_image
from minictr.oci import reference as _ref

log = logging.getLogger("minictr.cri")
STREAM_CHUNK = 100   # images per StreamImagesResponse


def _named(spec, field: str = "image.image") -> str:
    text = spec.image
    if not text:
        raise invalid(f"{field}: an image reference or ID is required")
    if spec.runtime_handler:
        raise invalid(f"image.runtime_handler {spec.runtime_handler!r}: unknown runtime handler "
                      f"(minictr has only the default one, \"\")")
    return text


class ImageService(api_pb2_grpc.ImageServiceServicer):
    def __init__(self, engine, registry_config, credentials):
        self.engine, self.registry_config, self.credentials = engine, registry_config, credentials

    def _find(self, store, text: str):
        try:
            return store.records.find(text)
        except AmbiguousImage as e:
            raise invalid(str(e)) from None

    def _images(self, request) -> list[pb.Image]:
        store = self.engine.images
        wanted = request.filter.image.image if request.HasField("filter") else ""
        if wanted:
            found = self._find(store, wanted)
            records = [found] if found else []
        else:
            records = store.records.all()
        images = []
        for record in records:
            try:
                images.append(to_image(store, record))
            except NotFound:
                continue   # removed by another call since it was listed
        return images

    def ListImages(self, request, context):
        return pb.ListImagesResponse(images=self._images(request))

    def StreamImages(self, request, context):
        images = self._images(request)
        for at in range(0, len(images), STREAM_CHUNK):
            yield pb.StreamImagesResponse(images=images[at:at + STREAM_CHUNK])

    def ImageStatus(self, request, context):
        store = self.engine.images
        record = self._find(store, _named(request.image))
        if record is None:
            return pb.ImageStatusResponse()
        try:
            image = to_image(store, record)
            info = verbose_info(store, record) if request.verbose else {}
        except NotFound:
            return pb.ImageStatusResponse()
        return pb.ImageStatusResponse(image=image, info=info)

    def PullImage(self, request, context):
        text = _named(request.image)
        try:
            ref = _ref.parse(text)
        except _ref.InvalidReference as e:
            raise invalid(f"failed to parse image reference {text!r}: {e}") from None
        auth = PullAuth(request.auth if request.HasField("auth") else None, self.credentials)
        client = RegistryClient(self.registry_config, auth, transport=Transport(auth.get, bearer=auth.bearer))
        started = time.monotonic()
        log.info("PullImage %s", ref)
        try:
            result = pull(self.engine.images, client, str(ref))
        except NotFound as e:
            raise CriError(grpc.StatusCode.NOT_FOUND, f'failed to pull image "{ref}": {e}') from None
        except (MinictrError, OSError) as e:   # the registry's or the disk's words, as containerd's UNKNOWN
            raise CriError(grpc.StatusCode.UNKNOWN, f'failed to pull image "{ref}": {e}') from None
        finally:
            client.close()
        log.info("PullImage %s: %s (%s, %.1f s)", ref, result.image_id, result.digest, time.monotonic() - started)
        memory.trim()   # the pull's buffers, back to the kernel
        return pb.PullImageResponse(image_ref=result.image_id)

    def RemoveImage(self, request, context):
        store = self.engine.images
        record = self._find(store, _named(request.image))
        if record is None:
            return pb.RemoveImageResponse()   # already gone: idempotent, as containerd
        try:
            # every name of the image goes, as the CRI asks (not docker's untag-one)
            remove_image(store, record.id, force=True)
        except NotFound:
            pass   # removed by a concurrent call
        log.info("RemoveImage %s: %s", request.image.image, record.id)
        return pb.RemoveImageResponse()

    def ImageFsInfo(self, request, context):
        return image_fs_info(self.engine.images)

