// The request the importer sends containerd to pin an image, read back by protobufjs with the field numbers of
// containerd's api/services/images/v1/images.proto: an independent decoder, not ours.
import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { encodeLabelUpdate } from '../../lib/runtime/containerd-api.ts';

const root = protobuf.Root.fromJSON({
  // protobufjs's JSON form; a map field is an IMapField, which the fields' declared type does not name.
  nested: {
    Image: {
      fields: {
        name: { type: 'string', id: 1 },
        labels: { keyType: 'string', type: 'string', id: 2 } as protobuf.IMapField,
        target: { type: 'bytes', id: 3 },
      },
    },
    FieldMask: { fields: { paths: { rule: 'repeated', type: 'string', id: 1 } } },
    UpdateImageRequest: {
      fields: { image: { type: 'Image', id: 1 }, updateMask: { type: 'FieldMask', id: 2 } },
    },
  },
});
const UpdateImageRequest = root.lookupType('UpdateImageRequest');

describe('encodeLabelUpdate', () => {
  it('names the image, sets one label and masks the update to that label alone', () => {
    const decoded = UpdateImageRequest.toObject(
      UpdateImageRequest.decode(
        encodeLabelUpdate('docker.io/library/nginx:1.25', 'io.cri-containerd.pinned', 'pinned'),
      ),
    );
    expect(decoded).toEqual({
      image: { name: 'docker.io/library/nginx:1.25', labels: { 'io.cri-containerd.pinned': 'pinned' } },
      updateMask: { paths: ['labels.io.cri-containerd.pinned'] },
    });
  });

  it('encodes names past 127 bytes and outside ASCII', () => {
    const name = `registry.example:5000/${'a/'.repeat(100)}naïve@sha256:${'0'.repeat(64)}`;
    const decoded = UpdateImageRequest.toObject(UpdateImageRequest.decode(encodeLabelUpdate(name, 'k', 'v')));
    expect(decoded.image).toEqual({ name, labels: { k: 'v' } });
  });
});
