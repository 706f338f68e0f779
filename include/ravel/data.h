// ravel::data -- datasets, the DataLoader, image transforms and dataset readers
// (torch.utils.data + torchvision.transforms + torchvision.datasets' file formats).
//
//   #include <ravel/data.h>
//   using namespace ravel;
//   namespace T = data::transforms;
//   auto train = data::load_fashion_mnist(data::Split::Train);
//   auto base = std::make_shared<data::TensorDataset>(train.images, train.labels);
//   auto augment = std::make_shared<T::Compose>(std::vector<T::TransformPtr>{
//       std::make_shared<T::ToFloat>(), std::make_shared<T::RandomCrop>(28, 2),
//       std::make_shared<T::RandomHorizontalFlip>()});
//   auto ds = std::make_shared<data::TransformDataset>(base, T::on_input(augment));
//   data::DataLoader loader(ds, {.batch_size = 128, .shuffle = true, .num_workers = 2});
//   for (data::Batch& b : loader) { /* b.input: float32 [128, 1, 28, 28], b.target: int64 */ }
#pragma once
#include "ravel/data/dataset.h"
#include "ravel/data/image_folder.h"
#include "ravel/data/loader.h"
#include "ravel/data/readers.h"
#include "ravel/data/transforms.h"
