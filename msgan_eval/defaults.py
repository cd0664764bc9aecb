"""Every default value, declared once. Commands and functions take these as parameter defaults."""

# Shared
SEED = 0
BATCH_SIZE = 50            # pytorch-fid's default batch size
NUM_WORKERS = 0            # DataLoader workers for decoding (0 = in the main process)
MAX_NUM_WORKERS = 64       # each worker is a process holding a copy of the loader
# The fast Inception on a CPU runs each batch in slices of this many images: activations of a few
# images stay in cache (measured on 2 cores: 30.5 img/s in slices of 8, 23.1 img/s for 64 at once;
# the features are the same). Chosen at run time by the vector width ATen dispatches to
# (torch.backends.cpu.get_cpu_capability()); AVX2 kernels keep half as many values per register and
# do better on slightly larger slices (CPU time on one core, kernels held to AVX2, 2026-12-01, two
# runs: 7.69 / 6.79 img/s in slices of 16, 7.27 / 6.53 in slices of 8; natively 7.13 / 7.47 and
# 7.68 / 7.92).
CPU_INCEPTION_SLICE = 8
CPU_INCEPTION_SLICE_BY_CAPABILITY = {"AVX2": 16, "AVX512": 8}
DEVICE = "auto"            # auto | cpu | cuda
# Largest image accepted, in pixels (64 MP, e.g. 8192x8192: a 192 MB RGB array). PIL only refuses
# above twice its own 89 MP limit and warns below; two 12000x12000 PNGs took `fid` to 8.9 GB.
MAX_IMAGE_PIXELS = 8192 * 8192

# FID
FID_DIMS = 2048
FID_DIMS_CHOICES = (64, 192, 768, 2048)
# Whose FID: the preprocessing of pytorch-fid (default), torch-fidelity or clean-fid
# (msgan_eval/features/preprocess.py spells out each).
FID_PRESET = "pytorch-fid"
FID_PRESET_CHOICES = ("pytorch-fid", "torch-fidelity", "clean-fid", "clean-fid-legacy-tensorflow")

# LPIPS diversity
LPIPS_NET = "alex"
LPIPS_NET_CHOICES = ("alex", "vgg", "squeeze")
LPIPS_PAIRS = "random"
LPIPS_PAIRS_CHOICES = ("random", "all", "consecutive")
LPIPS_NUM_PAIRS = 50       # MSGAN protocol: 50 random pairs per condition
# Memory bounds, refused up front: pairs per condition (indices + distances: 24 bytes a pair, so
# 10M pairs = 240 MB) and the comparison size (AlexNet features of one 1024x1024 image: ~25 MB,
# VGG16: ~500 MB; a batch of them at 30000x30000 asked for 22-40 GB).
LPIPS_MAX_PAIRS = 10_000_000
LPIPS_MAX_RESIZE = 1024

# NDB / JSD
NDB_BINS = 100
NDB_ALPHA = 0.05
NDB_MAX_ITER = 100
NDB_N_INIT = 1
NDB_KMEANS = "fast"              # fast (float32 screening, measured identical NDB) | exact
NDB_WHITEN_EPS = 1e-6
NDB_SUBSAMPLE_ABOVE_DIMS = 1000   # reference: above this, use a random d // 6 dimensions

# Mode seeking regulariser and trainers
MS_EPS = 1e-5
MS_WEIGHT = 1.0
Z_DIM = 100
TRAIN_BATCH_SIZE = 32
TRAIN_LR = 2e-4
TRAIN_BETAS = (0.5, 0.999)
TRAIN_WEIGHT_DECAY = 1e-4
SAMPLES_PER_CLASS = 50
MAX_SAMPLES_PER_CLASS = 100_000  # `sample` holds a class in memory: 100k 32x32 RGB = 0.3 GB
TRAIN_WIDTH = 1.0               # channel multiplier: 1.0 = the official 512/256/128 channels
TRAIN_CHECKPOINT_EVERY = 1000   # steps between checkpoints (one is always written at the end)
# Generator snapshots kept under RUN/checkpoints/ (the newest N; --keep-checkpoints all keeps
# every one): enough for a curve over a run, bounded on disk (a snapshot holds the generator only:
# 13.5 MB at width 1, 1.5 MB at the demo width 0.25; checkpoint.pt with D and Adam: 71 / 6.4 MB).
TRAIN_KEEP_CHECKPOINTS = 10

# Cache of reference statistics and bins: a size cap (least recently used entries go first) and
# whether generated sets are cached too (each set's 2048-d statistics take 33.5 MB).
CACHE_MAX_MB = 1024
CACHE_GENERATED = False

# compare / check
BOOTSTRAP = 200
# The bootstrap draws (resamples, set size) int64 indices at once: at most this many (2 GB), and
# at most MAX_BOOTSTRAP resamples (--bootstrap 1e8 tried to allocate tens of GB).
MAX_BOOTSTRAP = 100_000
MAX_BOOTSTRAP_CELLS = 250_000_000
CONFIDENCE = 0.95

# demo: sized for under 15 minutes on 2 CPU cores, evaluation included. Measured on a quiet 2-core
# machine: 414 s in all with 2000 steps (233 s with 1000 steps; 666 s with 1000 steps under load).
DEMO_STEPS = 2000
DEMO_WIDTH = 0.25
DEMO_PER_CLASS = 40
DEMO_REF_PER_CLASS = 50
DEMO_MAX_REF_PER_CLASS = 1000    # Fashion-MNIST's test split holds 1000 images per class
DEMO_NDB_BINS = 20

# The metric families `compare` runs when --metrics is not given; the others are asked for by name.
COMPARE_METRICS = ("fid", "lpips", "ndb", "degenerate", "lpips-gated")

# track / Tracker / train --eval-every (#26): the same families as compare by default; a generator
# callable is sampled TRACK_GENERATOR_SAMPLES images per step, TRACK_SAMPLE_BATCH per call.
TRACK_METRICS = COMPARE_METRICS
TRACK_GENERATOR_SAMPLES = 1000
TRACK_SAMPLE_BATCH = 100

# Image-to-image trainer (pix2pix with noise / its MSGAN twin; official Pix2Pix-Mode-Seeking options)
P2P_NZ = 8                 # --nz
P2P_NUM_D = 2              # --num_Ds
P2P_LAMBDA_L1 = 10.0       # --lambda_L1
P2P_LR = 2e-4              # --lr (Adam, betas (0.5, 0.999), no weight decay)
P2P_BETAS = (0.5, 0.999)
P2P_BATCH_SIZE = 16        # official: 1; 16 keeps a CPU busy with fewer steps
P2P_WIDTH = 1.0            # ngf = ndf = 64 * width
P2P_EDGE_THRESHOLD = 16    # fashion-mnist-edges: silhouette = pixels >= this grey level
P2P_INPUTS = 20            # sample --inputs: test inputs (conditions)
P2P_PER_INPUT = 10         # sample --per-input: samples per input (the paper: 10 for LPIPS)
# image-to-image demo: sized for <= 10 minutes on 2 CPU cores, evaluation included (docs/demos.md)
P2P_DEMO_STEPS = 1500
P2P_DEMO_WIDTH = 0.25
P2P_DEMO_REF_PER_CLASS = 50
# The demo's training settings, chosen by the ablation (docs/image-to-image.md): official
# --upsample bilinear and --niter_decay (the last half of the steps); the term with eps 1 and a
# DSGAN-style cap, weight 10, off for the first third of the steps and ramped over the next sixth.
P2P_DEMO_MS_WEIGHT = 10.0       # the MSGAN arm's --ms-weight
P2P_DEMO_MS_EPS = 1.0
P2P_DEMO_MS_CAP = 0.2
P2P_DEMO_UPSAMPLE = "bilinear"
P2P_DEMO_LR_DECAY_FRACTION = 0.5     # of the steps: --lr-decay-steps
P2P_DEMO_MS_WARMUP_FRACTION = 1 / 3  # --ms-warmup
P2P_DEMO_MS_RAMP_FRACTION = 1 / 6    # --ms-ramp
DEMO_SEEDS = 1                  # --seeds: training runs per arm (seed, seed + 1, ...)
DEMO_MAX_SEEDS = 20             # each seed trains two GANs (minutes each): 20 is hours already

# Vendi score and duplicates (#14)
VENDI_KERNEL = "cosine"          # cosine similarity of Inception pool3 features
# Near duplicates: cosine similarity of Inception pool3 features at or above this. Pool3 features are
# non-negative (after ReLU and average pooling), so distinct images are already well above 0;
# resized or re-encoded copies of one image stay above 0.99.
NEAR_DUPLICATE_COSINE = 0.99

# KID (torch-fidelity's defaults: 100 subsets of 1000, polynomial kernel (x.y / d + 1)^3)
KID_SUBSETS = 100
KID_SUBSET_SIZE = 1000
KID_MAX_SUBSETS = 100_000        # as MAX_BOOTSTRAP: beyond it, hours of kernels for no precision
# Kernel matrices are computed in row blocks of at most this many float64 entries (128 MiB; KID's
# working memory stays about 2 blocks whatever n is). Large blocks keep the GEMMs at full speed.
KID_BLOCK_ENTRIES = 1 << 24
# A within-set kernel is computed as its upper triangle: at least KID_TRIANGLE_BLOCKS row blocks,
# each against the later rows in one GEMM and against itself as a tile split in KID_TILE_SPLIT.
KID_TRIANGLE_BLOCKS = 8
KID_TILE_SPLIT = 4
# When choosing how to compute KID (metrics.kid.kid_method), a multiply-add of the thin membership
# GEMMs counts as this many of the kernel's (measured 1.4-1.7x slower per flop, 2 cores, AVX-512).
KID_WEIGHT_PRODUCT_COST = 1.5
# Precision/recall (Kynkaanniemi 2019 uses k = 3) and density/coverage (Naeem 2020, k = 5): one k
# for all four, as the prdc package; 5 is prdc's recommended setting.
PRDC_K = 5
PRDC_FEATURES = "inception-pool3"
PRDC_FEATURES_CHOICES = ("inception-pool3", "vgg16-fc2")
# Feature spaces (#25): the FID Inception (default), DINOv2 and OpenAI CLIP vision towers
# (msgan_eval/features/networks.py), VGG16 fc2. "inception-pool3" is accepted for "inception".
FEATURES = "inception"
FEATURES_CHOICES = ("inception", "dinov2-vit-s14", "dinov2-vit-b14", "dinov2-vit-l14",
                    "dinov2-vit-g14", "clip-vit-b32", "clip-vit-l14", "clip-vit-l14-336", "vgg16-fc2")
# CMMD (Jayasumana et al. 2024, sayakpaul/cmmd-pytorch distance.py): Gaussian RBF sigma, x1000
CMMD_FEATURES = "clip-vit-l14-336"
CMMD_SIGMA = 10.0
CMMD_SCALE = 1000.0
# Rows of the CMMD kernel matrices computed at once (float64): memory flat in n
CMMD_BLOCK_ROWS = 2048
# A DINOv2 / CLIP tower on a CPU runs each batch in slices of this many images, whose activations
# stay in cache (CPU time on one core, 2026-12-05, loaded machine: ViT-S/14 5.7 img/s in one pass
# of 32, 6.8 in slices of 8; CLIP ViT-B/32 8.9 and 9.7); the features are the same to 1e-6.
CPU_VIT_SLICE = 8
# Pairwise distances are computed in row blocks of at most this many entries (about 100 MB of
# float32/float64 working arrays per block), so 50k x 50k sets never hold a full distance matrix.
PRDC_BLOCK_ENTRIES = 1 << 22

# Degenerate-sample inspector and realism (#22). The realism score of Kynkaanniemi et al. 2019
# gates "realistic" samples (score >= 1): over every reference ball, k = PRDC_K, so a sample passes
# exactly where k-NN precision counts it (unrealistic_fraction = 1 - precision). The paper's pruned
# score (max over the balls no larger than the median radius, the official code's
# clamp_to_percentile=50, and its k = 3) is there for ranking samples (prune_percentile=50, k=3),
# but as a gate it rejects 50-59% of held-out Fashion-MNIST items at any reference size, against
# 7-16% with every ball at k = 5 (docs/inspect.md).
REALISM_K = PRDC_K
REALISM_PRUNE_PERCENTILE = None
# A flag fires outside what the reference set shows: below its 0.1th / above its 99.9th percentile
# of the flag's statistic (msgan_eval/metrics/flags.py documents each).
FLAG_LOW_PERCENTILE = 0.1
FLAG_HIGH_PERCENTILE = 99.9
# ... moved away from the median by this fraction of the percentile's distance to it: held-out
# Fashion-MNIST false positives (any pixel flag) 0.26% at 200 reference images, 0.9% at 100,
# instead of 1.5% and 3.0% without (docs/inspect.md).
FLAG_MARGIN = 0.25
# Fewer reference images than this cannot place a 0.1 / 99.9 percentile anywhere but at the
# extreme image: flags are not calibrated (an error naming --ref).
INSPECT_MIN_REFERENCE = 50

# DRIT (unpaired image-to-image), HelenMao/MSGAN DRIT-Mode-Seeking (options.py, model.py).
DRIT_BATCH_SIZE = 2        # --batch_size (halves: 1 encoded + 1 for the random-code discriminators)
DRIT_WIDTH = 1.0           # channel multiplier: 1.0 = the official 64 / 256 channels
DRIT_LR = 1e-4             # model.py:10 (content discriminator: lr / 2.5)
DRIT_BETAS = (0.5, 0.999)
DRIT_WEIGHT_DECAY = 1e-4
DRIT_D_ITER = 3            # --d_iter: content-discriminator-only batches between full updates + 1
# unpaired demo (demo --task unpaired): sized for <= 15 minutes on 2 CPU cores, evaluation included
DRIT_DEMO_STEPS = 6000     # batches; a full update every third (the others: content D only)
DRIT_DEMO_WIDTH = 0.125
DRIT_DEMO_BATCH_SIZE = 8
DRIT_DEMO_LR = 5e-4       # 5 x the official 1e-4: at 1e-4 nothing was learnt in a CPU budget

# StackGAN++ (text-to-image), HelenMao/MSGAN StackGAN++-Mode-Seeking (cfg/birds_3stages.yml,
# miscc/config.py); two stages, 16 -> 32 pixels, at CPU budgets.
STACKGAN_BATCH_SIZE = 24   # StackGAN-v2's birds_3stages.yml (MSGAN's: 4)
STACKGAN_WIDTH = 1.0       # GF_DIM = DF_DIM = 64 * width
STACKGAN_LR = 2e-4         # GENERATOR_LR = DISCRIMINATOR_LR, Adam betas (0.5, 0.999)
STACKGAN_BETAS = (0.5, 0.999)
STACKGAN_BRANCH_NUM = 2    # TREE.BRANCH_NUM (CUB: 3)
STACKGAN_BASE_SIZE = 16    # TREE.BASE_SIZE (CUB: 64)
STACKGAN_CAPTIONS = 20     # sample --captions: conditions (caption folders)
CANONICAL_CAPTIONS = 70    # fashion-mnist-captions: 10 "a {noun}" + 10 x 6 "a {colour} {noun}"
# text-to-image demo (demo --task text-to-image): sized for <= 15 minutes on 2 CPU cores
STACKGAN_DEMO_STEPS = 3000
STACKGAN_DEMO_WIDTH = 0.25
STACKGAN_DEMO_BATCH_SIZE = 16
