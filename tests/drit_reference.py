"""A written-out copy of the official DRIT code the MSGAN paper trained (HelenMao/MSGAN
``DRIT-Mode-Seeking/networks.py`` and ``model.py``, ``--concat 1``, ``--dis_scale 3``,
``--dis_norm None``), for the parity tests of ``msgan_eval.train.drit*``.

Kept as the official reads, class by class, at the official channel counts; only ``.cuda()`` calls,
the display and saving code are left out. Random draws use the global torch generator, as the
official does (``torch.randn`` in ``get_z_random`` and ``GaussianNoiseLayer``). The update
(``official_iteration``) makes the one change modern PyTorch forces (HsinYingLee/DRIT#62): the
gradients of ``backward_G_alone`` are taken before ``update_EG``'s first optimiser step.
"""
# A "# FILE:LINE" line above a class or function: where the official one starts in HelenMao/MSGAN
# DRIT-Mode-Seeking/FILE at commit e386c25 (checked 2026-12-05).
import torch
import torch.nn as nn
import torch.nn.functional as F

# --- networks.py ---------------------------------------------------------------------------------

# networks.py:498
class LeakyReLUConv2d(nn.Module):
    def __init__(self, n_in, n_out, kernel_size, stride, padding=0, norm='None', sn=False):
        super().__init__()
        model = [nn.ReflectionPad2d(padding)]
        model += [nn.Conv2d(n_in, n_out, kernel_size=kernel_size, stride=stride, padding=0, bias=True)]
        if 'norm' == 'Instance':    # the official compares two literals (never true)
            model += [nn.InstanceNorm2d(n_out, affine=False)]
        model += [nn.LeakyReLU(inplace=True)]
        self.model = nn.Sequential(*model)

    def forward(self, x):
        return self.model(x)


# networks.py:516
class ReLUINSConv2d(nn.Module):
    def __init__(self, n_in, n_out, kernel_size, stride, padding=0):
        super().__init__()
        self.model = nn.Sequential(nn.ReflectionPad2d(padding),
                                   nn.Conv2d(n_in, n_out, kernel_size=kernel_size, stride=stride,
                                             padding=0, bias=True),
                                   nn.InstanceNorm2d(n_out, affine=False), nn.ReLU(inplace=True))

    def forward(self, x):
        return self.model(x)


# networks.py:529
class INSResBlock(nn.Module):
    def conv3x3(self, inplanes, out_planes, stride=1):
        return [nn.ReflectionPad2d(1), nn.Conv2d(inplanes, out_planes, kernel_size=3, stride=stride)]

    def __init__(self, inplanes, planes, stride=1):
        super().__init__()
        model = self.conv3x3(inplanes, planes, stride)
        model += [nn.InstanceNorm2d(planes), nn.ReLU(inplace=True)]
        model += self.conv3x3(planes, planes)
        model += [nn.InstanceNorm2d(planes)]
        self.model = nn.Sequential(*model)

    def forward(self, x):
        residual = x
        out = self.model(x)
        out += residual
        return out


# networks.py:592
class GaussianNoiseLayer(nn.Module):
    def forward(self, x):
        if self.training is False:
            return x
        return x + torch.randn(x.size())


# networks.py:464
class LayerNorm(nn.Module):
    def __init__(self, n_out, eps=1e-5, affine=True):
        super().__init__()
        self.n_out, self.affine = n_out, affine
        self.weight = nn.Parameter(torch.ones(n_out, 1, 1))
        self.bias = nn.Parameter(torch.zeros(n_out, 1, 1))

    def forward(self, x):
        normalized_shape = x.size()[1:]
        return F.layer_norm(x, normalized_shape, self.weight.expand(normalized_shape),
                            self.bias.expand(normalized_shape))


# networks.py:601
class ReLUINSConvTranspose2d(nn.Module):
    def __init__(self, n_in, n_out, kernel_size, stride, padding, output_padding):
        super().__init__()
        self.model = nn.Sequential(
            nn.ConvTranspose2d(n_in, n_out, kernel_size=kernel_size, stride=stride, padding=padding,
                               output_padding=output_padding, bias=True),
            LayerNorm(n_out), nn.ReLU(inplace=True))

    def forward(self, x):
        return self.model(x)


# networks.py:451
def conv3x3(in_planes, out_planes):
    return [nn.ReflectionPad2d(1), nn.Conv2d(in_planes, out_planes, kernel_size=3, stride=1,
                                             padding=0, bias=True)]


# networks.py:480
class BasicBlock(nn.Module):
    def __init__(self, inplanes, outplanes, norm_layer=None, nl_layer=None):
        super().__init__()
        layers = [nl_layer()] + conv3x3(inplanes, inplanes) + [nl_layer()]
        layers += [nn.Sequential(*(conv3x3(inplanes, outplanes) + [nn.AvgPool2d(2, 2)]))]
        self.conv = nn.Sequential(*layers)
        self.shortcut = nn.Sequential(nn.AvgPool2d(kernel_size=2, stride=2),
                                      nn.Conv2d(inplanes, outplanes, 1, 1, 0, bias=True))

    def forward(self, x):
        return self.conv(x) + self.shortcut(x)


# networks.py:11
class Dis_content(nn.Module):
    def __init__(self):
        super().__init__()
        model = [LeakyReLUConv2d(256, 256, kernel_size=7, stride=2, padding=1, norm='Instance')
                 for _ in range(3)]
        model += [LeakyReLUConv2d(256, 256, kernel_size=4, stride=1, padding=0)]
        model += [nn.Conv2d(256, 1, kernel_size=1, stride=1, padding=0)]
        self.model = nn.Sequential(*model)

    def forward(self, x):
        return [self.model(x).view(-1)]


# networks.py:29
class MultiScaleDis(nn.Module):
    def __init__(self, input_dim, n_scale=3, n_layer=4):
        super().__init__()
        self.downsample = nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False)
        self.Diss = nn.ModuleList([self._make_net(64, input_dim, n_layer) for _ in range(n_scale)])

    def _make_net(self, ch, input_dim, n_layer):
        model = [LeakyReLUConv2d(input_dim, ch, 4, 2, 1)]
        tch = ch
        for _ in range(1, n_layer):
            model += [LeakyReLUConv2d(tch, tch * 2, 4, 2, 1)]
            tch *= 2
        model += [nn.Conv2d(tch, 1, 1, 1, 0)]
        return nn.Sequential(*model)

    def forward(self, x):
        outs = []
        for Dis in self.Diss:
            outs.append(Dis(x))
            x = self.downsample(x)
        return outs


# networks.py:93
class E_content(nn.Module):
    def __init__(self, input_dim_a, input_dim_b):
        super().__init__()
        branches = []
        for dim in (input_dim_a, input_dim_b):
            tch = 64
            enc = [LeakyReLUConv2d(dim, tch, kernel_size=7, stride=1, padding=3)]
            for _ in range(1, 3):
                enc += [ReLUINSConv2d(tch, tch * 2, kernel_size=3, stride=2, padding=1)]
                tch *= 2
            enc += [INSResBlock(tch, tch) for _ in range(3)]
            branches.append(nn.Sequential(*enc))
        self.convA, self.convB = branches
        self.conv_share = nn.Sequential(INSResBlock(256, 256), GaussianNoiseLayer())

    def forward(self, xa, xb):
        outputA = self.convA(xa)
        outputB = self.convB(xb)
        return self.conv_share(outputA), self.conv_share(outputB)

    def forward_a(self, xa):
        return self.conv_share(self.convA(xa))


# networks.py:199
class E_attr_concat(nn.Module):
    def __init__(self, input_dim_a, input_dim_b, output_nc=8):
        super().__init__()
        ndf, n_blocks, max_ndf = 64, 4, 4
        nl_layer = lambda: nn.LeakyReLU(negative_slope=0.2, inplace=False)   # noqa: E731
        for side, dim in (("A", input_dim_a), ("B", input_dim_b)):
            layers = [nn.ReflectionPad2d(1), nn.Conv2d(dim, ndf, kernel_size=4, stride=2, padding=0)]
            for n in range(1, n_blocks):
                layers += [BasicBlock(ndf * min(max_ndf, n), ndf * min(max_ndf, n + 1), None, nl_layer)]
            layers += [nl_layer(), nn.AdaptiveAvgPool2d(1)]
            setattr(self, f"conv_{side}", nn.Sequential(*layers))
            setattr(self, f"fc_{side}", nn.Sequential(nn.Linear(ndf * 4, output_nc)))
            setattr(self, f"fcVar_{side}", nn.Sequential(nn.Linear(ndf * 4, output_nc)))

    def forward(self, xa, xb):
        flat_a = self.conv_A(xa).view(xa.size(0), -1)
        flat_b = self.conv_B(xb).view(xb.size(0), -1)
        return self.fc_A(flat_a), self.fcVar_A(flat_a), self.fc_B(flat_b), self.fcVar_B(flat_b)


# networks.py:329
class G_concat(nn.Module):
    def __init__(self, output_dim_a, output_dim_b, nz):
        super().__init__()
        self.nz = nz
        self.dec_share = nn.Sequential(INSResBlock(256, 256))
        for side, out_dim in (("A", output_dim_a), ("B", output_dim_b)):
            tch = 256 + nz
            dec1 = [INSResBlock(tch, tch) for _ in range(3)]
            tch = tch + nz
            dec2 = ReLUINSConvTranspose2d(tch, tch // 2, kernel_size=3, stride=2, padding=1, output_padding=1)
            tch = tch // 2 + nz
            dec3 = ReLUINSConvTranspose2d(tch, tch // 2, kernel_size=3, stride=2, padding=1, output_padding=1)
            tch = tch // 2 + nz
            dec4 = [nn.ConvTranspose2d(tch, out_dim, kernel_size=1, stride=1, padding=0), nn.Tanh()]
            setattr(self, f"dec{side}1", nn.Sequential(*dec1))
            setattr(self, f"dec{side}2", nn.Sequential(dec2))
            setattr(self, f"dec{side}3", nn.Sequential(dec3))
            setattr(self, f"dec{side}4", nn.Sequential(*dec4))

    def _forward(self, x, z, side):
        out = self.dec_share(x)
        for k in range(1, 5):
            z_img = z.view(z.size(0), z.size(1), 1, 1).expand(z.size(0), z.size(1), out.size(2), out.size(3))
            out = getattr(self, f"dec{side}{k}")(torch.cat([out, z_img], 1))
        return out

    def forward_a(self, x, z):
        return self._forward(x, z, "A")

    def forward_b(self, x, z):
        return self._forward(x, z, "B")


# --- model.py ------------------------------------------------------------------------------------

class OfficialDRIT(nn.Module):
    """``DRIT`` of model.py with its networks handed in (so tests can load our weights first);
    ``no_ms`` is HsinYingLee/DRIT's switch back to DRIT without the mode-seeking term."""

    # model.py:6
    def __init__(self, enc_c, enc_a, gen, disA, disB, disA2, disB2, disContent, no_ms=False,
                 lr=0.0001, half_size=1):
        super().__init__()
        self.nz, self.no_ms, self.half_size = 8, no_ms, half_size
        self.enc_c, self.enc_a, self.gen = enc_c, enc_a, gen
        self.disA, self.disB, self.disA2, self.disB2, self.disContent = disA, disB, disA2, disB2, disContent
        adam = lambda m, lr: torch.optim.Adam(m.parameters(), lr=lr, betas=(0.5, 0.999),   # noqa: E731
                                              weight_decay=0.0001)
        for name in ("disA", "disB", "disA2", "disB2", "enc_c", "enc_a", "gen"):
            setattr(self, f"{name}_opt", adam(getattr(self, name), lr))
        self.disContent_opt = adam(self.disContent, lr / 2.5)

    # model.py:86
    def get_z_random(self, batchSize, nz):
        return torch.randn(batchSize, nz)

    # model.py:119
    def forward(self):
        half_size = self.half_size
        self.real_A_encoded, self.real_A_random = self.input_A[0:half_size], self.input_A[half_size:]
        self.real_B_encoded, self.real_B_random = self.input_B[0:half_size], self.input_B[half_size:]
        self.z_content_a, self.z_content_b = self.enc_c.forward(self.real_A_encoded, self.real_B_encoded)
        self.mu_a, self.logvar_a, self.mu_b, self.logvar_b = self.enc_a.forward(self.real_A_encoded, self.real_B_encoded)
        std_a = self.logvar_a.mul(0.5).exp_()
        eps_a = self.get_z_random(std_a.size(0), std_a.size(1))
        self.z_attr_a = eps_a.mul(std_a).add_(self.mu_a)
        std_b = self.logvar_b.mul(0.5).exp_()
        eps_b = self.get_z_random(std_b.size(0), std_b.size(1))
        self.z_attr_b = eps_b.mul(std_b).add_(self.mu_b)
        self.z_random = self.get_z_random(self.real_A_encoded.size(0), self.nz)
        if not self.no_ms:
            self.z_random2 = self.get_z_random(self.real_A_encoded.size(0), self.nz)
            input_content_forA = torch.cat((self.z_content_b, self.z_content_a, self.z_content_b, self.z_content_b), 0)
            input_content_forB = torch.cat((self.z_content_a, self.z_content_b, self.z_content_a, self.z_content_a), 0)
            input_attr_forA = torch.cat((self.z_attr_a, self.z_attr_a, self.z_random, self.z_random2), 0)
            input_attr_forB = torch.cat((self.z_attr_b, self.z_attr_b, self.z_random, self.z_random2), 0)
            output_fakeA = self.gen.forward_a(input_content_forA, input_attr_forA)
            output_fakeB = self.gen.forward_b(input_content_forB, input_attr_forB)
            self.fake_A_encoded, self.fake_AA_encoded, self.fake_A_random, self.fake_A_random2 = torch.split(output_fakeA, self.z_content_a.size(0), dim=0)
            self.fake_B_encoded, self.fake_BB_encoded, self.fake_B_random, self.fake_B_random2 = torch.split(output_fakeB, self.z_content_a.size(0), dim=0)
        else:
            input_content_forA = torch.cat((self.z_content_b, self.z_content_a, self.z_content_b), 0)
            input_content_forB = torch.cat((self.z_content_a, self.z_content_b, self.z_content_a), 0)
            input_attr_forA = torch.cat((self.z_attr_a, self.z_attr_a, self.z_random), 0)
            input_attr_forB = torch.cat((self.z_attr_b, self.z_attr_b, self.z_random), 0)
            output_fakeA = self.gen.forward_a(input_content_forA, input_attr_forA)
            output_fakeB = self.gen.forward_b(input_content_forB, input_attr_forB)
            self.fake_A_encoded, self.fake_AA_encoded, self.fake_A_random = torch.split(output_fakeA, self.z_content_a.size(0), dim=0)
            self.fake_B_encoded, self.fake_BB_encoded, self.fake_B_random = torch.split(output_fakeB, self.z_content_a.size(0), dim=0)
        self.z_content_recon_b, self.z_content_recon_a = self.enc_c.forward(self.fake_A_encoded, self.fake_B_encoded)
        self.mu_recon_a, self.logvar_recon_a, self.mu_recon_b, self.logvar_recon_b = self.enc_a.forward(self.fake_A_encoded, self.fake_B_encoded)
        std_a = self.logvar_recon_a.mul(0.5).exp_()
        eps_a = self.get_z_random(std_a.size(0), std_a.size(1))
        self.z_attr_recon_a = eps_a.mul(std_a).add_(self.mu_recon_a)
        std_b = self.logvar_recon_b.mul(0.5).exp_()
        eps_b = self.get_z_random(std_b.size(0), std_b.size(1))
        self.z_attr_recon_b = eps_b.mul(std_b).add_(self.mu_recon_b)
        self.fake_A_recon = self.gen.forward_a(self.z_content_recon_a, self.z_attr_recon_a)
        self.fake_B_recon = self.gen.forward_b(self.z_content_recon_b, self.z_attr_recon_b)
        self.mu2_a, _, self.mu2_b, _ = self.enc_a.forward(self.fake_A_random, self.fake_B_random)

    # model.py:196
    def update_D_content(self, image_a, image_b):
        self.input_A, self.input_B = image_a, image_b
        self.real_A_encoded = self.input_A[0:self.half_size]
        self.real_B_encoded = self.input_B[0:self.half_size]
        self.z_content_a, self.z_content_b = self.enc_c.forward(self.real_A_encoded, self.real_B_encoded)
        self.disContent_opt.zero_grad()
        loss_D_Content = self.backward_contentD(self.z_content_a, self.z_content_b)
        self.disContent_loss = loss_D_Content.item()
        nn.utils.clip_grad_norm_(self.disContent.parameters(), 5)
        self.disContent_opt.step()

    # model.py:206
    def update_D(self, image_a, image_b):
        self.input_A, self.input_B = image_a, image_b
        self.forward()
        self.disA_opt.zero_grad()
        self.disA_loss = self.backward_D(self.disA, self.real_A_encoded, self.fake_A_encoded).item()
        self.disA_opt.step()
        self.disA2_opt.zero_grad()
        self.disA2_loss = self.backward_D(self.disA2, self.real_A_random, self.fake_A_random).item()
        if not self.no_ms:
            self.disA2_loss += self.backward_D(self.disA2, self.real_A_random, self.fake_A_random2).item()
        self.disA2_opt.step()
        self.disB_opt.zero_grad()
        self.disB_loss = self.backward_D(self.disB, self.real_B_encoded, self.fake_B_encoded).item()
        self.disB_opt.step()
        self.disB2_opt.zero_grad()
        self.disB2_loss = self.backward_D(self.disB2, self.real_B_random, self.fake_B_random).item()
        if not self.no_ms:
            self.disB2_loss += self.backward_D(self.disB2, self.real_B_random, self.fake_B_random2).item()
        self.disB2_opt.step()
        self.disContent_opt.zero_grad()
        self.disContent_loss = self.backward_contentD(self.z_content_a, self.z_content_b).item()
        nn.utils.clip_grad_norm_(self.disContent.parameters(), 5)
        self.disContent_opt.step()

    # model.py:244
    def backward_D(self, netD, real, fake):
        pred_fake = netD.forward(fake.detach())
        pred_real = netD.forward(real)
        loss_D = 0
        for out_a, out_b in zip(pred_fake, pred_real):
            out_fake, out_real = torch.sigmoid(out_a), torch.sigmoid(out_b)
            ad_fake_loss = F.binary_cross_entropy(out_fake, torch.zeros_like(out_fake))
            ad_true_loss = F.binary_cross_entropy(out_real, torch.ones_like(out_real))
            loss_D += ad_true_loss + ad_fake_loss
        loss_D.backward()
        return loss_D

    # model.py:259
    def backward_contentD(self, imageA, imageB):
        pred_fake = self.disContent.forward(imageA.detach())
        pred_real = self.disContent.forward(imageB.detach())
        for out_a, out_b in zip(pred_fake, pred_real):
            out_fake, out_real = torch.sigmoid(out_a), torch.sigmoid(out_b)
            ad_true_loss = F.binary_cross_entropy(out_real, torch.ones((out_real.size(0))))
            ad_fake_loss = F.binary_cross_entropy(out_fake, torch.zeros((out_fake.size(0))))
        loss_D = ad_true_loss + ad_fake_loss
        loss_D.backward()
        return loss_D

    # model.py:273
    def update_EG(self):
        # The one change (module docstring): backward_G_alone's gradients before the first step.
        loss_alone = self.loss_G_alone()
        params = list(self.enc_c.parameters()) + list(self.gen.parameters())
        grads = torch.autograd.grad(loss_alone, params, retain_graph=True)
        self.enc_c_opt.zero_grad()
        self.enc_a_opt.zero_grad()
        self.gen_opt.zero_grad()
        self.backward_EG()
        self.enc_c_opt.step()
        self.enc_a_opt.step()
        self.gen_opt.step()
        self.enc_c_opt.zero_grad()
        self.gen_opt.zero_grad()
        for p, g in zip(params, grads):
            p.grad = g.clone()
        self.enc_c_opt.step()
        self.gen_opt.step()

    # model.py:290
    def backward_EG(self):
        loss_G_GAN_Acontent = self.backward_G_GAN_content(self.z_content_a)
        loss_G_GAN_Bcontent = self.backward_G_GAN_content(self.z_content_b)
        loss_G_GAN_A = self.backward_G_GAN(self.fake_A_encoded, self.disA)
        loss_G_GAN_B = self.backward_G_GAN(self.fake_B_encoded, self.disB)
        kl_element_a = self.mu_a.pow(2).add_(self.logvar_a.exp()).mul_(-1).add_(1).add_(self.logvar_a)
        loss_kl_za_a = torch.sum(kl_element_a).mul_(-0.5) * 0.01
        kl_element_b = self.mu_b.pow(2).add_(self.logvar_b.exp()).mul_(-1).add_(1).add_(self.logvar_b)
        loss_kl_za_b = torch.sum(kl_element_b).mul_(-0.5) * 0.01
        loss_kl_zc_a = self._compute_kl(self.z_content_a) * 0.01
        loss_kl_zc_b = self._compute_kl(self.z_content_b) * 0.01
        criterionL1 = torch.nn.L1Loss()
        loss_G_L1_A = criterionL1(self.fake_A_recon, self.real_A_encoded) * 10
        loss_G_L1_B = criterionL1(self.fake_B_recon, self.real_B_encoded) * 10
        loss_G_L1_AA = criterionL1(self.fake_AA_encoded, self.real_A_encoded) * 10
        loss_G_L1_BB = criterionL1(self.fake_BB_encoded, self.real_B_encoded) * 10
        loss_G = loss_G_GAN_A + loss_G_GAN_B + \
            loss_G_GAN_Acontent + loss_G_GAN_Bcontent + \
            loss_G_L1_AA + loss_G_L1_BB + \
            loss_G_L1_A + loss_G_L1_B + \
            loss_kl_zc_a + loss_kl_zc_b + \
            loss_kl_za_a + loss_kl_za_b
        loss_G.backward(retain_graph=True)
        self.G_loss = loss_G.item()

    # model.py:342
    def backward_G_GAN_content(self, data):
        outs = self.disContent.forward(data)
        for out in outs:
            outputs_fake = torch.sigmoid(out)
            all_half = 0.5 * torch.ones((outputs_fake.size(0)))
            ad_loss = F.binary_cross_entropy(outputs_fake, all_half)
        return ad_loss

    # model.py:350
    def backward_G_GAN(self, fake, netD=None):
        outs_fake = netD.forward(fake)
        loss_G = 0
        for out_a in outs_fake:
            outputs_fake = torch.sigmoid(out_a)
            loss_G += F.binary_cross_entropy(outputs_fake, torch.ones_like(outputs_fake))
        return loss_G

    def loss_G_alone(self):
        loss_G_GAN2_A = self.backward_G_GAN(self.fake_A_random, self.disA2)
        loss_G_GAN2_B = self.backward_G_GAN(self.fake_B_random, self.disB2)
        loss_z_L1_a = torch.mean(torch.abs(self.mu2_a - self.z_random)) * 10
        loss_z_L1_b = torch.mean(torch.abs(self.mu2_b - self.z_random)) * 10
        loss_z_L1 = loss_z_L1_a + loss_z_L1_b + loss_G_GAN2_A + loss_G_GAN2_B
        if not self.no_ms:
            loss_G_GAN2_A2 = self.backward_G_GAN(self.fake_A_random2, self.disA2)
            loss_G_GAN2_B2 = self.backward_G_GAN(self.fake_B_random2, self.disB2)
            # the mode-seeking term, model.py:367-372 (backward_G_alone, model.py:359-390)
            lz_AB = torch.mean(torch.abs(self.fake_B_random2 - self.fake_B_random)) / torch.mean(torch.abs(self.z_random2 - self.z_random))
            lz_BA = torch.mean(torch.abs(self.fake_A_random2 - self.fake_A_random)) / torch.mean(torch.abs(self.z_random2 - self.z_random))
            eps = 1 * 1e-5
            loss_z_L1 += (loss_G_GAN2_A2 + loss_G_GAN2_B2)
            loss_z_L1 += (1 / (lz_AB + eps) + 1 / (lz_BA + eps))
        return loss_z_L1

    # model.py:403
    def _compute_kl(self, mu):
        return torch.mean(torch.pow(mu, 2))


def official_loop(model, batches, d_iter=3):
    """train.py:38-52 over one epoch's (images_a, images_b) batches, drawing each batch's noise
    after ``torch.manual_seed(seeds[it])``."""
    for it, (images_a, images_b, seed) in enumerate(batches):
        torch.manual_seed(seed)
        if (it + 1) % d_iter != 0 and it < len(batches) - 2:
            model.update_D_content(images_a, images_b)
            continue
        model.update_D(images_a, images_b)
        model.update_EG()
