// Asks containerd's CRI plugin about an image exactly as kubelet does before it decides to pull
// (`imagePullPolicy: IfNotPresent`): runtime.v1.ImageService/ImageStatus over the containerd socket.
// containerd 1.6 serves both runtime.v1 and runtime.v1alpha2; v1 is what current kubelets speak.
import { fileURLToPath } from 'node:url';
import {
  type CallOptions,
  type Client,
  credentials,
  type GrpcObject,
  loadPackageDefinition,
  type ServiceClientConstructor,
  type ServiceError,
} from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { z } from 'zod';

const PROTO_PATH = fileURLToPath(new URL('./cri.proto', import.meta.url));

const ImageStatusResponse = z.object({
  image: z
    .object({
      id: z.string(),
      repoTags: z.array(z.string()),
      repoDigests: z.array(z.string()),
      size: z.string().optional(),
    })
    .nullish(),
  info: z.record(z.string(), z.string()),
});

// containerd's verbose `info` entry: its view of the image, including the OCI config kubelet's runtime applies.
const VerboseImageInfo = z.looseObject({
  imageSpec: z.looseObject({
    config: z
      .looseObject({
        Entrypoint: z.array(z.string()).nullish(),
        Cmd: z.array(z.string()).nullish(),
        WorkingDir: z.string().nullish(),
        Env: z.array(z.string()).nullish(),
        User: z.string().nullish(),
      })
      .optional(),
  }),
});

export type ImageRuntimeConfig = NonNullable<z.infer<typeof VerboseImageInfo>['imageSpec']['config']>;

export interface CriImageStatus {
  /** False when kubelet would pull: no image in the CRI's store answers to the reference. */
  found: boolean;
  /** Image ID (config digest) when found. */
  id?: string;
  repoTags: string[];
  repoDigests: string[];
  /** Size in bytes when found. */
  size?: number;
  /** Verbose details (JSON strings by key), only with `verbose: true`. */
  info: Record<string, string>;
}

export interface ImageStatusOptions {
  /** Ask for containerd's verbose info (the image's config among it). */
  verbose?: boolean;
  /** Milliseconds before the call is abandoned. */
  timeout?: number;
}

// proto-loader builds the client at run time; this is the one method we call on it.
interface ImageServiceClient extends Client {
  ImageStatus(
    request: { image: { image: string; annotations: Record<string, string> }; verbose: boolean },
    options: CallOptions,
    callback: (error: ServiceError | null, response: unknown) => void,
  ): void;
}

let imageServiceConstructor: ServiceClientConstructor | undefined;

const connectImageService = (address: string): ImageServiceClient => {
  if (!imageServiceConstructor) {
    const definition = loadSync(PROTO_PATH, { longs: String, defaults: true, arrays: true });
    const runtime = loadPackageDefinition(definition).runtime as GrpcObject;
    imageServiceConstructor = (runtime.v1 as GrpcObject).ImageService as ServiceClientConstructor;
  }
  const target = address.startsWith('unix:') ? address : `unix://${address}`;
  return new imageServiceConstructor(target, credentials.createInsecure()) as unknown as ImageServiceClient;
};

/**
 * CRI ImageStatus for `reference` (as written in a pod spec: `nginx`, `repo:tag`, `repo@sha256:...`).
 * `address` is containerd's socket path (or a `unix://` URI).
 */
export const imageStatus = async (
  address: string,
  reference: string,
  options: ImageStatusOptions = {},
): Promise<CriImageStatus> => {
  const client = connectImageService(address);
  try {
    const raw = await new Promise<unknown>((resolve, reject) => {
      client.ImageStatus(
        { image: { image: reference, annotations: {} }, verbose: options.verbose ?? false },
        { deadline: Date.now() + (options.timeout ?? 30_000) },
        (error, response) => (error ? reject(error) : resolve(response)),
      );
    });
    const { image, info } = ImageStatusResponse.parse(raw);
    if (!image) return { found: false, repoTags: [], repoDigests: [], info };
    return {
      found: true,
      id: image.id,
      repoTags: image.repoTags,
      repoDigests: image.repoDigests,
      size: image.size === undefined ? undefined : Number(image.size),
      info,
    };
  } catch (error) {
    throw new Error(`CRI ImageStatus ${reference} at ${address}: ${(error as Error).message}`, {
      cause: error,
    });
  } finally {
    client.close();
  }
};

/** The image's entrypoint, command, working directory, environment and user, as the CRI runtime sees them. */
export const imageRuntimeConfig = async (address: string, reference: string): Promise<ImageRuntimeConfig> => {
  const status = await imageStatus(address, reference, { verbose: true });
  const info = status.info.info;
  if (!status.found || !info) throw new Error(`CRI ImageStatus ${reference} at ${address}: image not found`);
  return VerboseImageInfo.parse(JSON.parse(info)).imageSpec.config ?? {};
};
