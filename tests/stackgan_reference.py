"""A written-out copy of the official StackGAN++ text-to-image code the MSGAN paper trained
(HelenMao/MSGAN ``StackGAN++-Mode-Seeking/model.py`` and ``trainer.py``, ``condGANTrainer``;
hanzhanggit/StackGAN-v2 ``code/trainer.py`` for the one-noise baseline), for the parity tests of
``msgan_eval.train.stackgan*``.

The networks read ``cfg`` as the official do; ``make_cfg`` builds it (``B_CONDITION: True``,
``cfg/birds_3stages.yml``). ``.cuda()``, DataParallel, TensorBoard and the Inception score are left
out. Random draws use the global torch generator (``CA_NET.reparametrize``'s ``normal_()``).
"""
# A "# FILE:LINE" line above a class or function: where the official one starts in HelenMao/MSGAN
# StackGAN++-Mode-Seeking/FILE at commit e386c25 (checked 2026-12-05).
from types import SimpleNamespace

import torch
import torch.nn as nn

cfg = SimpleNamespace()


def make_cfg(t_dim=1024, branch_num=3, gf_dim=64, df_dim=64, ef_dim=128, z_dim=100, r_num=2,
             uncond=1.0, kl=2.0, ms=1.0):
    cfg.TEXT = SimpleNamespace(DIMENSION=t_dim)
    cfg.GAN = SimpleNamespace(EMBEDDING_DIM=ef_dim, DF_DIM=df_dim, GF_DIM=gf_dim, Z_DIM=z_dim,
                              R_NUM=r_num, B_CONDITION=True)
    cfg.TREE = SimpleNamespace(BRANCH_NUM=branch_num)
    cfg.TRAIN = SimpleNamespace(COEFF=SimpleNamespace(UNCOND_LOSS=uncond, KL=kl, MS_LOSS=ms,
                                                      COLOR_LOSS=0.0))
    return cfg


# --- model.py ------------------------------------------------------------------------------------

# model.py:47
class GLU(nn.Module):
    def forward(self, x):
        nc = x.size(1)
        assert nc % 2 == 0, 'channels dont divide 2!'
        nc = int(nc / 2)
        return x[:, :nc] * torch.sigmoid(x[:, nc:])


# model.py:58
def conv3x3(in_planes, out_planes):
    return nn.Conv2d(in_planes, out_planes, kernel_size=3, stride=1, padding=1, bias=False)


# model.py:66
def upBlock(in_planes, out_planes):
    return nn.Sequential(nn.Upsample(scale_factor=2, mode='nearest'), conv3x3(in_planes, out_planes * 2),
                         nn.BatchNorm2d(out_planes * 2), GLU())


# model.py:77
def Block3x3_relu(in_planes, out_planes):
    return nn.Sequential(conv3x3(in_planes, out_planes * 2), nn.BatchNorm2d(out_planes * 2), GLU())


# model.py:86
class ResBlock(nn.Module):
    def __init__(self, channel_num):
        super().__init__()
        self.block = nn.Sequential(conv3x3(channel_num, channel_num * 2), nn.BatchNorm2d(channel_num * 2),
                                   GLU(), conv3x3(channel_num, channel_num), nn.BatchNorm2d(channel_num))

    def forward(self, x):
        residual = x
        out = self.block(x)
        out += residual
        return out


# model.py:105
class CA_NET(nn.Module):
    def __init__(self):
        super().__init__()
        self.t_dim = cfg.TEXT.DIMENSION
        self.ef_dim = cfg.GAN.EMBEDDING_DIM
        self.fc = nn.Linear(self.t_dim, self.ef_dim * 4, bias=True)
        self.relu = GLU()

    # model.py:115
    def encode(self, text_embedding):
        x = self.relu(self.fc(text_embedding))
        return x[:, :self.ef_dim], x[:, self.ef_dim:]

    # model.py:121
    def reparametrize(self, mu, logvar):
        std = logvar.mul(0.5).exp_()
        eps = torch.FloatTensor(std.size()).normal_()
        return eps.mul(std).add_(mu)

    def forward(self, text_embedding):
        mu, logvar = self.encode(text_embedding)
        return self.reparametrize(mu, logvar), mu, logvar


# model.py:136
class INIT_STAGE_G(nn.Module):
    def __init__(self, ngf):
        super().__init__()
        self.gf_dim = ngf
        self.in_dim = cfg.GAN.Z_DIM + cfg.GAN.EMBEDDING_DIM
        self.fc = nn.Sequential(nn.Linear(self.in_dim, ngf * 4 * 4 * 2, bias=False),
                                nn.BatchNorm1d(ngf * 4 * 4 * 2), GLU())
        self.upsample1 = upBlock(ngf, ngf // 2)
        self.upsample2 = upBlock(ngf // 2, ngf // 4)
        self.upsample3 = upBlock(ngf // 4, ngf // 8)
        self.upsample4 = upBlock(ngf // 8, ngf // 16)

    def forward(self, z_code, c_code=None):
        in_code = torch.cat((c_code, z_code), 1)
        out_code = self.fc(in_code)
        out_code = out_code.view(-1, self.gf_dim, 4, 4)
        out_code = self.upsample1(out_code)
        out_code = self.upsample2(out_code)
        out_code = self.upsample3(out_code)
        return self.upsample4(out_code)


# model.py:180
class NEXT_STAGE_G(nn.Module):
    def __init__(self, ngf):
        super().__init__()
        self.gf_dim = ngf
        self.ef_dim = cfg.GAN.EMBEDDING_DIM
        self.jointConv = Block3x3_relu(ngf + self.ef_dim, ngf)
        self.residual = nn.Sequential(*[ResBlock(ngf) for _ in range(cfg.GAN.R_NUM)])
        self.upsample = upBlock(ngf, ngf // 2)

    def forward(self, h_code, c_code):
        s_size = h_code.size(2)
        c_code = c_code.view(-1, self.ef_dim, 1, 1)
        c_code = c_code.repeat(1, 1, s_size, s_size)
        h_c_code = torch.cat((c_code, h_code), 1)
        out_code = self.jointConv(h_c_code)
        out_code = self.residual(out_code)
        return self.upsample(out_code)


# model.py:220
class GET_IMAGE_G(nn.Module):
    def __init__(self, ngf):
        super().__init__()
        self.img = nn.Sequential(conv3x3(ngf, 3), nn.Tanh())

    def forward(self, h_code):
        return self.img(h_code)


# model.py:234
class G_NET(nn.Module):
    def __init__(self):
        super().__init__()
        self.gf_dim = cfg.GAN.GF_DIM
        self.ca_net = CA_NET()
        self.h_net1 = INIT_STAGE_G(self.gf_dim * 16)
        self.img_net1 = GET_IMAGE_G(self.gf_dim)
        if cfg.TREE.BRANCH_NUM > 1:
            self.h_net2 = NEXT_STAGE_G(self.gf_dim)
            self.img_net2 = GET_IMAGE_G(self.gf_dim // 2)
        if cfg.TREE.BRANCH_NUM > 2:
            self.h_net3 = NEXT_STAGE_G(self.gf_dim // 2)
            self.img_net3 = GET_IMAGE_G(self.gf_dim // 4)

    def forward(self, z_code, text_embedding=None):
        c_code, mu, logvar = self.ca_net(text_embedding)
        fake_imgs = []
        h_code1 = self.h_net1(z_code, c_code)
        fake_imgs.append(self.img_net1(h_code1))
        if cfg.TREE.BRANCH_NUM > 1:
            h_code2 = self.h_net2(h_code1, c_code)
            fake_imgs.append(self.img_net2(h_code2))
        if cfg.TREE.BRANCH_NUM > 2:
            h_code3 = self.h_net3(h_code2, c_code)
            fake_imgs.append(self.img_net3(h_code3))
        return fake_imgs, mu, logvar


# model.py:288
def Block3x3_leakRelu(in_planes, out_planes):
    return nn.Sequential(conv3x3(in_planes, out_planes), nn.BatchNorm2d(out_planes),
                         nn.LeakyReLU(0.2, inplace=True))


# model.py:298
def downBlock(in_planes, out_planes):
    return nn.Sequential(nn.Conv2d(in_planes, out_planes, 4, 2, 1, bias=False),
                         nn.BatchNorm2d(out_planes), nn.LeakyReLU(0.2, inplace=True))


# model.py:308
def encode_image_by_16times(ndf):
    return nn.Sequential(
        nn.Conv2d(3, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 2), nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(ndf * 2, ndf * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 4), nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(ndf * 4, ndf * 8, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 8), nn.LeakyReLU(0.2, inplace=True))


class _D_NET(nn.Module):
    """D_NET64 / D_NET128 / D_NET256: their shared head (jointConv, logits, uncond_logits)."""

    def _head(self, ndf, efg):
        self.logits = nn.Sequential(nn.Conv2d(ndf * 8, 1, kernel_size=4, stride=4), nn.Sigmoid())
        self.jointConv = Block3x3_leakRelu(ndf * 8 + efg, ndf * 8)
        self.uncond_logits = nn.Sequential(nn.Conv2d(ndf * 8, 1, kernel_size=4, stride=4), nn.Sigmoid())

    def forward(self, x_var, c_code=None):
        x_code = self._code(x_var)
        c_code = c_code.view(-1, self.ef_dim, 1, 1)
        c_code = c_code.repeat(1, 1, 4, 4)
        h_c_code = torch.cat((c_code, x_code), 1)
        h_c_code = self.jointConv(h_c_code)
        output = self.logits(h_c_code)
        out_uncond = self.uncond_logits(x_code)
        return [output.view(-1), out_uncond.view(-1)]


# model.py:330
class D_NET64(_D_NET):
    def __init__(self):
        super().__init__()
        ndf, self.ef_dim = cfg.GAN.DF_DIM, cfg.GAN.EMBEDDING_DIM
        self.img_code_s16 = encode_image_by_16times(ndf)
        self._head(ndf, self.ef_dim)

    def _code(self, x):
        return self.img_code_s16(x)


# model.py:374
class D_NET128(_D_NET):
    def __init__(self):
        super().__init__()
        ndf, self.ef_dim = cfg.GAN.DF_DIM, cfg.GAN.EMBEDDING_DIM
        self.img_code_s16 = encode_image_by_16times(ndf)
        self.img_code_s32 = downBlock(ndf * 8, ndf * 16)
        self.img_code_s32_1 = Block3x3_leakRelu(ndf * 16, ndf * 8)
        self._head(ndf, self.ef_dim)

    def _code(self, x):
        return self.img_code_s32_1(self.img_code_s32(self.img_code_s16(x)))


# model.py:422
class D_NET256(_D_NET):
    def __init__(self):
        super().__init__()
        ndf, self.ef_dim = cfg.GAN.DF_DIM, cfg.GAN.EMBEDDING_DIM
        self.img_code_s16 = encode_image_by_16times(ndf)
        self.img_code_s32 = downBlock(ndf * 8, ndf * 16)
        self.img_code_s64 = downBlock(ndf * 16, ndf * 32)
        self.img_code_s64_1 = Block3x3_leakRelu(ndf * 32, ndf * 16)
        self.img_code_s64_2 = Block3x3_leakRelu(ndf * 16, ndf * 8)
        self._head(ndf, self.ef_dim)

    def _code(self, x):
        x = self.img_code_s32(self.img_code_s16(x))
        return self.img_code_s64_2(self.img_code_s64_1(self.img_code_s64(x)))


# --- trainer.py (condGANTrainer) -------------------------------------------------------------------

def KL_loss(mu, logvar):
    KLD_element = mu.pow(2).add_(logvar.exp()).mul_(-1).add_(1).add_(logvar)
    return torch.mean(KLD_element).mul_(-0.5)


class OfficialTrainer:
    """``train``'s loop body, ``train_Dnet`` and ``train_Gnet``; ``no_ms`` is StackGAN-v2's."""

    def __init__(self, netG, netsD, no_ms=False, lr=0.0002):
        self.netG, self.netsD, self.num_Ds, self.no_ms = netG, netsD, len(netsD), no_ms
        self.optimizersD = [torch.optim.Adam(d.parameters(), lr=lr, betas=(0.5, 0.999)) for d in netsD]
        self.optimizerG = torch.optim.Adam(netG.parameters(), lr=lr, betas=(0.5, 0.999))
        self.avg_param_G = [p.data.clone() for p in netG.parameters()]
        self.criterion = nn.BCELoss()

    def iteration(self, real_imgs, wrong_imgs, txt_embedding, noise, noise_2):
        self.real_imgs, self.wrong_imgs = real_imgs, wrong_imgs
        batch = noise.size(0)
        self.real_labels, self.fake_labels = torch.ones(batch), torch.zeros(batch)
        if self.no_ms:
            self.noise_c, emb = noise, txt_embedding
        else:
            self.noise_c = torch.cat((noise, noise_2), dim=0)
            emb = torch.cat((txt_embedding, txt_embedding), dim=0)
        self.fake_imgs, self.mu, self.logvar = self.netG(self.noise_c, emb)
        self.errD_total = 0
        for i in range(self.num_Ds):
            self.errD_total += self.train_Dnet(i).item()
        self.errG_total = self.train_Gnet().item()
        for p, avg_p in zip(self.netG.parameters(), self.avg_param_G):
            avg_p.mul_(0.999).add_(p.data, alpha=0.001)

    # trainer.py:549
    def train_Dnet(self, idx):
        batch_size = self.real_imgs[0].size(0)
        criterion, mu = self.criterion, self.mu
        netD, optD = self.netsD[idx], self.optimizersD[idx]
        real_imgs, wrong_imgs = self.real_imgs[idx], self.wrong_imgs[idx]
        netD.zero_grad()
        real_labels, fake_labels = self.real_labels[:batch_size], self.fake_labels[:batch_size]
        if self.no_ms:
            real_logits = netD(real_imgs, mu.detach())
            wrong_logits = netD(wrong_imgs, mu.detach())
            fake_logits = netD(self.fake_imgs[idx].detach(), mu.detach())
            errD_fake = criterion(fake_logits[0], fake_labels)
            errD_fake_uncond = criterion(fake_logits[1], fake_labels)
        else:
            fake_imgs1, fake_imgs2 = torch.split(self.fake_imgs[idx], real_imgs.size(0), dim=0)
            mu1, mu2 = torch.split(mu, real_imgs.size(0), dim=0)
            real_logits = netD(real_imgs, mu1.detach())
            wrong_logits = netD(wrong_imgs, mu1.detach())
            fake_logits1 = netD(fake_imgs1.detach(), mu1.detach())
            fake_logits2 = netD(fake_imgs2.detach(), mu2.detach())
            errD_fake = criterion(fake_logits1[0], fake_labels) + criterion(fake_logits2[0], fake_labels)
            errD_fake_uncond = criterion(fake_logits1[1], fake_labels) + criterion(fake_logits2[1], fake_labels)
        errD_real = criterion(real_logits[0], real_labels)
        errD_wrong = criterion(wrong_logits[0], fake_labels)
        u = cfg.TRAIN.COEFF.UNCOND_LOSS
        errD_real = errD_real + u * criterion(real_logits[1], real_labels)
        errD_wrong = errD_wrong + u * criterion(wrong_logits[1], real_labels)
        errD_fake = errD_fake + u * errD_fake_uncond
        errD = errD_real + errD_wrong + errD_fake
        errD.backward()
        optD.step()
        return errD

    # trainer.py:605
    def train_Gnet(self):
        self.netG.zero_grad()
        errG_total = 0
        batch_size = self.real_imgs[0].size(0)
        criterion, mu, logvar = self.criterion, self.mu, self.logvar
        real_labels = self.real_labels[:batch_size]
        u = cfg.TRAIN.COEFF.UNCOND_LOSS
        if self.no_ms:
            for i in range(self.num_Ds):
                outputs = self.netsD[i](self.fake_imgs[i], mu)
                errG = criterion(outputs[0], real_labels) + u * criterion(outputs[1], real_labels)
                errG_total = errG_total + errG
            kl_loss = KL_loss(mu, logvar) * cfg.TRAIN.COEFF.KL
            errG_total = errG_total + kl_loss
        else:
            mu_1, mu_2 = torch.split(mu, batch_size, 0)
            logvar1, logvar2 = torch.split(logvar, batch_size, 0)
            noise1, noise2 = torch.split(self.noise_c, batch_size, 0)
            for i in range(self.num_Ds):
                fake_imgs1, fake_imgs2 = torch.split(self.fake_imgs[i], batch_size, 0)
                outputs1 = self.netsD[i](fake_imgs1, mu_1)
                outputs2 = self.netsD[i](fake_imgs2, mu_2)
                errG = criterion(outputs1[0], real_labels) + criterion(outputs2[0], real_labels)
                errG = errG + u * (criterion(outputs1[1], real_labels) + criterion(outputs2[1], real_labels))
                errG_total = errG_total + errG
            # the mode-seeking term, trainer.py:634-637 (condGANTrainer.train_Gnet)
            lz = torch.mean(torch.abs(fake_imgs2 - fake_imgs1)) / torch.mean(torch.abs(noise2 - noise1))
            eps = 1 * 1e-5
            lz_loss = 1 / (lz + eps) * cfg.TRAIN.COEFF.MS_LOSS
            kl_loss = (KL_loss(mu_1, logvar1) + KL_loss(mu_2, logvar2)) * cfg.TRAIN.COEFF.KL
            errG_total = errG_total + kl_loss + lz_loss
        errG_total.backward()
        self.optimizerG.step()
        return errG_total
